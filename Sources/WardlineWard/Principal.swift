/// A clinician's role. Ward-wide roles see every patient of their ward; a nurse sees the patients
/// in her care assignments; hospital-wide roles see every ward.
public enum Role: String, Sendable, Hashable, CaseIterable {
    case nurse
    case chargeNurse = "charge_nurse"
    case physician
    case rapidResponse = "rapid_response"
    case admin

    public enum Reach: Sendable { case careAssignments, ward, hospital }

    public var reach: Reach {
        switch self {
        case .nurse: .careAssignments
        case .chargeNurse, .physician: .ward
        case .rapidResponse, .admin: .hospital
        }
    }

    /// Roles paged through their `role:` room for every critical alarm they may see.
    public var isOnCallForCriticalAlarms: Bool { self == .chargeNurse || self == .physician || self == .rapidResponse }
}

/// Who is on the other end of a socket or a REST call, as the verified token says.
public struct Principal: Sendable, Hashable {
    public var userID: String
    public var role: Role
    public var ward: String

    public init(userID: String, role: Role, ward: String) {
        self.userID = userID
        self.role = role
        self.ward = ward
    }
}
