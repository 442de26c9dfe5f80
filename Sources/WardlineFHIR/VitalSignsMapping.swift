import WardlineCore
import WardlineEngine

/// What one Observation says, in the order a reading's Observations are listed: the five vital
/// signs of the FHIR vital-signs profiles, then the NEWS2 total.
public enum ObservationKind: Int, CaseIterable, Sendable, Comparable {
    case heartRate, oxygenSaturation, respiratoryRate, bodyTemperature, bloodPressure, news2

    public static func < (a: ObservationKind, b: ObservationKind) -> Bool { a.rawValue < b.rawValue }

    /// The short name in identifiers.
    public var name: String {
        switch self {
        case .heartRate: "hr"
        case .oxygenSaturation: "spo2"
        case .respiratoryRate: "rr"
        case .bodyTemperature: "temp"
        case .bloodPressure: "bp"
        case .news2: "news2"
        }
    }

    /// The codings of `Observation.code`. SpO2 carries 59408-5 beside 2708-6, as the R4 oxygen
    /// saturation profile asks for pulse oximetry.
    ///
    /// NEWS2 has no LOINC code (88330-6 is NEWS, the 2012 score); SNOMED CT's 1104051000000101
    /// "Royal College of Physicians National Early Warning Score 2 - total score" is what NHS
    /// England's NEWS2 guidance and HL7 Norway's VKP NEWS2 profile
    /// (http://hl7.no/fhir/vkpobservation/StructureDefinition/vkp-Observation-NEWS2score,
    /// patternCode 1104051000000101) use, so an EHR already knows it.
    public var codings: [Coding] {
        switch self {
        case .heartRate: [Coding(FHIRSystems.loinc, "8867-4", "Heart rate")]
        case .oxygenSaturation: [Coding(FHIRSystems.loinc, "2708-6", "Oxygen saturation in Arterial blood"),
                                 Coding(FHIRSystems.loinc, "59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry")]
        case .respiratoryRate: [Coding(FHIRSystems.loinc, "9279-1", "Respiratory rate")]
        case .bodyTemperature: [Coding(FHIRSystems.loinc, "8310-5", "Body temperature")]
        case .bloodPressure: [Coding(FHIRSystems.loinc, "85354-9", "Blood pressure panel with all children optional")]
        case .news2: [Coding(FHIRSystems.snomed, "1104051000000101", "Royal College of Physicians National Early Warning Score 2 - total score")]
        }
    }

    var text: String {
        switch self {
        case .heartRate: "Heart rate"
        case .oxygenSaturation: "Oxygen saturation"
        case .respiratoryRate: "Respiratory rate"
        case .bodyTemperature: "Body temperature"
        case .bloodPressure: "Blood pressure"
        case .news2: "NEWS2 total score"
        }
    }

    /// The profiles claimed in `meta.profile`: the base vital-signs profile and the specific one.
    /// A NEWS2 total is a score, not a vital sign, and claims none.
    var profiles: [String]? {
        let specific = switch self {
        case .heartRate: "heartrate"
        case .oxygenSaturation: "oxygensat"
        case .respiratoryRate: "resprate"
        case .bodyTemperature: "bodytemp"
        case .bloodPressure: "bp"
        case .news2: ""
        }
        return specific.isEmpty ? nil : [FHIRSystems.vitalSignsProfile, "http://hl7.org/fhir/StructureDefinition/" + specific]
    }

    /// NHS England's NEWS2 guidance files the total under `survey`; the rest are `vital-signs`.
    var category: CodeableConcept {
        let code = self == .news2 ? Coding(FHIRSystems.observationCategory, "survey", "Survey")
            : Coding(FHIRSystems.observationCategory, "vital-signs", "Vital Signs")
        return CodeableConcept(coding: [code], text: nil)
    }

    /// UCUM code and the unit as written for people.
    var unit: (code: String, display: String) {
        switch self {
        case .heartRate: ("/min", "beats/minute")
        case .oxygenSaturation: ("%", "%")
        case .respiratoryRate: ("/min", "breaths/minute")
        case .bodyTemperature: ("Cel", "C")
        case .bloodPressure: ("mm[Hg]", "mmHg")
        case .news2: ("{score}", "score")
        }
    }

    /// The `vitals` columns that must all be present for a reading to give this Observation; a
    /// reading gives it if any one group is complete. NEWS2 is only scored from a reading that
    /// carries all seven parameters: a partial total would understate the risk.
    public var columnGroups: [[String]] {
        switch self {
        case .heartRate: [["hr"]]
        case .oxygenSaturation: [["spo2"]]
        case .respiratoryRate: [["rr"]]
        case .bodyTemperature: [["temp"]]
        case .bloodPressure: [["sbp"], ["dbp"]]
        case .news2: [["rr", "spo2", "o2", "sbp", "hr", "acvpu", "temp"]]
        }
    }

    /// The kind a search token (`system|code` or a bare `code`) names; nil when none.
    public static func named(system: String?, code: String) -> ObservationKind? {
        allCases.first { kind in kind.codings.contains { $0.code == code && (system == nil || $0.system == system) } }
    }
}

/// The mean of one vital over the part of one hour a search covers, from one device.
public struct HourlyMean: Sendable, Equatable {
    public var mean: Double
    public var readings: Int
    public var min: Double
    public var max: Double

    public init(mean: Double, readings: Int, min: Double, max: Double) {
        self.mean = mean
        self.readings = readings
        self.min = min
        self.max = max
    }
}

/// One device's readings for one patient in one hour, as means per vital (`hr`, `spo2`, `rr`,
/// `temp`, `sbp`, `dbp`).
public struct HourOfReadings: Sendable, Equatable {
    public var hourStart: Int64
    public var deviceID: String
    public var means: [String: HourlyMean]

    public init(hourStart: Int64, deviceID: String, means: [String: HourlyMean]) {
        self.hourStart = hourStart
        self.deviceID = deviceID
        self.means = means
    }
}

/// Readings to Observations. Pure: no clock, no database.
public enum VitalSignsMapping {
    /// The Observations of one reading, in `kinds` order, for those of `kinds` it carries.
    /// NEWS2 is scored from this reading alone, on the patient's SpO2 scale.
    public static func observations(of r: Reading, kinds: [ObservationKind], scale: SpO2Scale) -> [Observation] {
        let v = r.vitals
        let when = FHIRTime.dateTime(r.time)
        func make(_ kind: ObservationKind) -> Observation {
            Observation(meta: Meta(profile: kind.profiles), identifier: [identifier("\(r.deviceID)/\(r.seq)/\(r.time)/\(kind.name)")],
                        category: [kind.category], code: CodeableConcept(coding: kind.codings, text: kind.text),
                        subject: patient(r.patientID), effectiveDateTime: when, device: device(r.deviceID))
        }
        return kinds.compactMap { kind in
            var o = make(kind)
            switch kind {
            case .heartRate: o.valueQuantity = v.heartRate.map { quantity($0, kind) }
            case .oxygenSaturation: o.valueQuantity = v.spo2.map { quantity($0, kind) }
            case .respiratoryRate: o.valueQuantity = v.respiratoryRate.map { quantity($0, kind) }
            case .bodyTemperature: o.valueQuantity = v.temperature.map { quantity($0, kind) }
            case .bloodPressure:
                guard v.systolicBP != nil || v.diastolicBP != nil else { return nil }
                o.component = pressures(systolic: v.systolicBP, diastolic: v.diastolicBP)
                return o
            case .news2:
                let score = News2Score(respirationRate: v.respiratoryRate, spo2: v.spo2, onOxygen: v.onOxygen, systolicBP: v.systolicBP,
                                       pulse: v.heartRate, consciousness: v.consciousness, temperature: v.temperature, scale: scale)
                guard score.isComplete else { return nil }
                o.valueInteger = score.total
                o.note = [Annotation(text: "Scored by Wardline from this reading's seven parameters on SpO2 scale \(scale.rawValue).")]
                return o
            }
            return o.valueQuantity == nil ? nil : o
        }
    }

    /// The means of one hour as Observations marked as such: `effectivePeriod` for the part of
    /// the hour inside [from, to), a tag and a note saying how many readings each mean is of.
    /// NEWS2 is never averaged: a mean score hides the worst one.
    public static func observations(of hour: HourOfReadings, patientID: String, kinds: [ObservationKind],
                                    from: Int64, to: Int64) -> [Observation] {
        let period = Period(start: FHIRTime.dateTime(max(hour.hourStart, from)), end: FHIRTime.dateTime(min(hour.hourStart + 3_600_000, to)))
        let tag = Coding(FHIRSystems.aggregateTag, "hourly-mean", "Mean of the readings in one hour")
        return kinds.compactMap { kind in
            let columns: [String] = switch kind {
            case .heartRate: ["hr"]
            case .oxygenSaturation: ["spo2"]
            case .respiratoryRate: ["rr"]
            case .bodyTemperature: ["temp"]
            case .bloodPressure: ["sbp", "dbp"]
            case .news2: []
            }
            let means = columns.map { hour.means[$0] }
            guard means.contains(where: { $0 != nil }) else { return nil }
            var o = Observation(meta: Meta(profile: kind.profiles, tag: [tag]),
                                identifier: [identifier("\(hour.deviceID)/\(hour.hourStart)/\(kind.name)/hourly-mean")],
                                category: [kind.category], code: CodeableConcept(coding: kind.codings, text: kind.text),
                                subject: patient(patientID), effectivePeriod: period, device: device(hour.deviceID))
            if kind == .bloodPressure {
                o.component = pressures(systolic: means[0].map { rounded($0.mean) }, diastolic: means[1].map { rounded($0.mean) })
                o.note = zip(["systolic", "diastolic"], means).compactMap { name, m in m.map { Annotation(text: note(name, $0)) } }
            } else if let m = means[0] {
                o.valueQuantity = quantity(rounded(m.mean), kind)
                o.note = [Annotation(text: note(nil, m))]
            }
            return o
        }
    }

    private static func note(_ what: String?, _ m: HourlyMean) -> String {
        let spread = "min \(rounded(m.min).formatted), max \(rounded(m.max).formatted)"
        return "\(what.map { $0 + ": " } ?? "")mean of \(m.readings) reading\(m.readings == 1 ? "" : "s") over the hour (\(spread))"
    }

    /// Two decimals: a mean of `real` columns carries float noise (36.950000762…).
    static func rounded(_ x: Double) -> Double { (x * 100).rounded() / 100 }

    private static func identifier(_ value: String) -> Identifier { Identifier(system: FHIRSystems.readingIdentifier, value: value) }
    private static func patient(_ id: String) -> Reference { Reference(reference: "Patient/" + id) }
    private static func device(_ id: String) -> Reference { Reference(reference: "Device/" + id) }

    private static func quantity(_ value: Double, _ kind: ObservationKind) -> Quantity {
        Quantity(value: value, unit: kind.unit.display, code: kind.unit.code)
    }

    /// Both components always, as the R4 blood pressure profile requires; a missing pressure says so.
    private static func pressures(systolic: Double?, diastolic: Double?) -> [ObservationComponent] {
        let absent = CodeableConcept(coding: [Coding(FHIRSystems.dataAbsentReason, "unknown", "Unknown")], text: nil)
        func component(_ code: String, _ display: String, _ value: Double?) -> ObservationComponent {
            ObservationComponent(code: CodeableConcept(coding: [Coding(FHIRSystems.loinc, code, display)], text: nil),
                                 valueQuantity: value.map { quantity($0, .bloodPressure) }, dataAbsentReason: value == nil ? absent : nil)
        }
        return [component("8480-6", "Systolic blood pressure", systolic), component("8462-4", "Diastolic blood pressure", diastolic)]
    }
}

extension Double {
    /// `36.9`, `72` (no `.0` for a whole number).
    var formatted: String { self == rounded() && abs(self) < 1e15 ? String(Int64(self)) : String(self) }
}
