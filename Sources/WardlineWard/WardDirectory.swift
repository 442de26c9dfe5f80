/// Where a patient lies.
public struct PatientPlace: Sendable, Hashable {
    public var patientID: String
    public var ward: String
    public var bed: String?

    public init(patientID: String, ward: String, bed: String?) {
        self.patientID = patientID
        self.ward = ward
        self.bed = bed
    }
}

/// Why a clinician may not see a patient or do something (`AccessPolicy`); the sentence goes back
/// to the client as is.
public enum AccessRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    case unknownPatient(String)
    case otherWard(patient: String, ward: String)
    case notInCare(patient: String)
    /// The role may not do this at all, or not on this ward.
    case notPermitted(String)

    public var description: String {
        switch self {
        case .unknownPatient(let p): "patient \(p) is not admitted to any ward"
        case .otherWard(let p, let w): "patient \(p) is on another ward than \(w)"
        case .notInCare(let p): "patient \(p) is not in your care assignments"
        case .notPermitted(let why): why
        }
    }
}

/// Who lies where and who looks after whom: a snapshot read from the database, replaced whole when
/// the tables change. Access to a patient is decided here and only here.
public struct WardDirectory: Sendable, Equatable {
    public var places: [String: PatientPlace]
    /// user id → the patients in that user's care.
    public var careAssignments: [String: Set<String>]

    public init(places: [String: PatientPlace] = [:], careAssignments: [String: Set<String>] = [:]) {
        self.places = places
        self.careAssignments = careAssignments
    }

    public func check(_ who: Principal, mayView patientID: String) -> AccessRefusal? {
        guard let place = places[patientID] else {
            // Hospital-wide roles still see a patient nobody has admitted yet (a device sending first).
            return who.role.reach == .hospital ? nil : .unknownPatient(patientID)
        }
        switch who.role.reach {
        case .hospital: return nil
        case .ward: return place.ward == who.ward ? nil : .otherWard(patient: patientID, ward: who.ward)
        case .careAssignments:
            guard place.ward == who.ward else { return .otherWard(patient: patientID, ward: who.ward) }
            return careAssignments[who.userID]?.contains(patientID) == true ? nil : .notInCare(patient: patientID)
        }
    }

    public func mayView(_ who: Principal, _ patientID: String) -> Bool { check(who, mayView: patientID) == nil }

    /// The patients a clinician may see, sorted by ward and bed (the ward grid's order).
    public func visiblePatients(for who: Principal) -> [PatientPlace] {
        places.values.filter { mayView(who, $0.patientID) }.sorted {
            ($0.ward, Self.bedOrder($0.bed), $0.patientID) < ($1.ward, Self.bedOrder($1.bed), $1.patientID)
        }
    }

    /// "2" before "10": beds sort by number when they are numbers.
    private static func bedOrder(_ bed: String?) -> String {
        guard let bed else { return "~" }
        if let n = Int(bed) { return String(repeating: "0", count: max(0, 8 - String(n).count)) + String(n) }
        return bed
    }
}
