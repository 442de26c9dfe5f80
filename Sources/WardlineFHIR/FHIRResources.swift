/// The few FHIR R4 types Wardline writes, as `Encodable` structs (the project's one JSON approach):
/// only the elements Wardline fills. An optional left nil is left out of the JSON, as FHIR wants
/// (no `null`s, no empty arrays).

public struct Coding: Encodable, Sendable, Equatable {
    public var system: String
    public var code: String
    public var display: String?

    public init(_ system: String, _ code: String, _ display: String? = nil) {
        self.system = system
        self.code = code
        self.display = display
    }
}

public struct CodeableConcept: Encodable, Sendable, Equatable {
    public var coding: [Coding]
    public var text: String?
}

public struct Quantity: Encodable, Sendable, Equatable {
    public var value: Double
    /// The unit as people read it; `code` is the UCUM code.
    public var unit: String
    public var system = FHIRSystems.ucum
    public var code: String
}

public struct Reference: Encodable, Sendable, Equatable {
    public var reference: String
}

public struct Period: Encodable, Sendable, Equatable {
    public var start: String
    public var end: String
}

public struct Identifier: Encodable, Sendable, Equatable {
    public var system: String
    public var value: String
}

public struct Annotation: Encodable, Sendable, Equatable {
    public var text: String
}

public struct Meta: Encodable, Sendable, Equatable {
    public var profile: [String]?
    public var tag: [Coding]?
}

public struct ObservationComponent: Encodable, Sendable, Equatable {
    public var code: CodeableConcept
    public var valueQuantity: Quantity?
    /// Why a component has no value (a cuff that gave only the systolic pressure).
    public var dataAbsentReason: CodeableConcept?
}

/// One FHIR R4 Observation: a vital sign of one reading (or the mean of an hour's), or a NEWS2 total.
public struct Observation: Encodable, Sendable, Equatable {
    public let resourceType = "Observation"
    public var meta: Meta
    public var identifier: [Identifier]
    public var status = "final"
    public var category: [CodeableConcept]
    public var code: CodeableConcept
    public var subject: Reference
    /// A reading's device time; an hourly mean has `effectivePeriod` instead.
    public var effectiveDateTime: String?
    public var effectivePeriod: Period?
    public var valueQuantity: Quantity?
    public var valueInteger: Int?
    public var note: [Annotation]?
    public var device: Reference
    public var component: [ObservationComponent]?

    enum CodingKeys: String, CodingKey {
        case resourceType, meta, identifier, status, category, code, subject, effectiveDateTime, effectivePeriod,
             valueQuantity, valueInteger, note, device, component
    }
}

/// A `searchset` Bundle: one page of a search, with its own link and the next page's.
public struct SearchBundle: Encodable, Sendable {
    public struct Link: Encodable, Sendable, Equatable {
        public var relation: String
        public var url: String
    }

    public struct Entry: Encodable, Sendable {
        public struct Search: Encodable, Sendable {
            public var mode = "match"
        }

        public var resource: Observation
        public var search = Search()
    }

    public let resourceType = "Bundle"
    public var type = "searchset"
    public var link: [Link]
    public var entry: [Entry]?

    public init(observations: [Observation], selfURL: String, nextURL: String?) {
        link = [Link(relation: "self", url: selfURL)] + (nextURL.map { [Link(relation: "next", url: $0)] } ?? [])
        entry = observations.isEmpty ? nil : observations.map { Entry(resource: $0) }
    }

    enum CodingKeys: String, CodingKey { case resourceType, type, link, entry }
}

/// A refusal the FHIR way: every error from `/fhir/…` is one of these, never Wardline's envelope.
public struct OperationOutcome: Encodable, Sendable {
    public struct Issue: Encodable, Sendable {
        public var severity = "error"
        /// From the FHIR `issue-type` value set (`invalid`, `login`, `forbidden`, …).
        public var code: String
        public var diagnostics: String
    }

    public let resourceType = "OperationOutcome"
    public var issue: [Issue]

    /// The issue type that says what an HTTP status says.
    public init(status: Int, diagnostics: String) {
        let code = switch status {
        case 400: "invalid"
        case 401: "login"
        case 403: "forbidden"
        case 404: "not-found"
        case 405: "not-supported"
        case 429: "throttled"
        case 503: "transient"
        default: "exception"
        }
        issue = [Issue(code: code, diagnostics: diagnostics)]
    }

    enum CodingKeys: String, CodingKey { case resourceType, issue }
}

/// The code systems and the project's own URIs. Wardline has no web address of its own to mint
/// canonical URLs under, so its identifiers and tags use `urn:wardline:…`.
public enum FHIRSystems {
    public static let loinc = "http://loinc.org"
    public static let snomed = "http://snomed.info/sct"
    public static let ucum = "http://unitsofmeasure.org"
    public static let observationCategory = "http://terminology.hl7.org/CodeSystem/observation-category"
    public static let dataAbsentReason = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
    /// A reading's observations: `device/seq/time/kind`, the same on every export, so an EHR that
    /// is sent one twice can tell.
    public static let readingIdentifier = "urn:wardline:fhir:observation"
    /// Marks an Observation that is a mean over an hour, not a measurement.
    public static let aggregateTag = "urn:wardline:fhir:aggregate"
    public static let vitalSignsProfile = "http://hl7.org/fhir/StructureDefinition/vitalsigns"
}
