/// Something a clinician asks to do. Actions on a device carry the place of the patient the
/// device serves now (`current`, nil when unassigned) and, for an assignment, the patient it is
/// to serve (`target`): the caller reads both fresh from the database.
public enum StaffAction: Sendable, Equatable {
    case viewPatient(String)
    /// An alarm of this patient, or of a device serving nobody (nil).
    case viewAlarm(patientID: String?)
    case acknowledgeAlarm(patientID: String?)
    /// Threshold overrides and the SpO2 scale: a clinical prescription.
    case setAlarmLimits(patientID: String)
    /// Admit to `to`, or move there from `from`.
    case admit(to: PatientPlace, from: PatientPlace?)
    case discharge(PatientPlace)
    /// Assign a nurse to a patient's care, or end it; nil when the patient is not admitted.
    case manageCare(PatientPlace?)
    case assignDevice(current: PatientPlace?, target: PatientPlace)
    case viewDevice(current: PatientPlace?)
    case unassignDevice(current: PatientPlace?)
    case commandDevice(DeviceCommand.Name, current: PatientPlace?)
    /// The ward's alarm-burden report: how the ward's alarms are set and answered.
    case viewWardReport(ward: String)
    /// A rule set tried on recorded history (`POST /api/v1/replays`), and its results: every
    /// patient's readings of the period, on any ward.
    case replayRules
}

/// Which roles may send which device commands: the hospital's setting
/// (`WARDLINE_COMMAND_ROLES`), a list of `role` (every command) and `role:command` (one command).
public struct CommandGrants: Sendable, Equatable {
    public var grants: [Role: Set<DeviceCommand.Name>]

    public static let defaultSetting = "charge_nurse,physician,admin,nurse:silence"

    public init(grants: [Role: Set<DeviceCommand.Name>]) { self.grants = grants }

    /// Parses the setting; the error names the bad entry.
    public init(parsing setting: String) throws(ParseError) {
        var grants: [Role: Set<DeviceCommand.Name>] = [:]
        for entry in setting.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !entry.isEmpty {
            let parts = entry.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard parts.count <= 2, let role = Role(rawValue: parts[0]) else {
                throw ParseError(description: "\(entry): not a role (\(Role.allCases.map(\.rawValue).joined(separator: ", "))), optionally :command")
            }
            if parts.count == 1 {
                grants[role, default: []].formUnion(DeviceCommand.Name.allCases)
            } else if let command = DeviceCommand.Name(rawValue: parts[1]) {
                grants[role, default: []].insert(command)
            } else {
                throw ParseError(description: "\(entry): \(parts[1]) is not a command (\(DeviceCommand.Name.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
        }
        self.grants = grants
    }

    public struct ParseError: Error, Sendable, CustomStringConvertible { public let description: String }

    public func allows(_ role: Role, _ command: DeviceCommand.Name) -> Bool { grants[role]?.contains(command) == true }
}

/// The one place that decides whether a clinician may do something; the REST API and the
/// WebSocket hub both ask it. Pure and immutable: the ward directory it reads is passed in.
///
/// - Seeing a patient follows `WardDirectory` (care assignments for nurses, the ward for charge
///   nurses and physicians, every ward for rapid response and admins).
/// - Seeing or acknowledging an alarm needs sight of its patient; an alarm of a device serving
///   nobody is for hospital-wide roles. Seeing a device: sight of its patient; one serving nobody,
///   charge nurses and hospital-wide roles.
/// - Alarm limits: physicians (and admins) who may see the patient.
/// - Admission, discharge, care assignments, and device assignment: the charge nurse of the ward
///   (every ward involved: where the patient or device comes from and where it goes) and admins.
/// - The alarm-burden report of a ward: its charge nurse and admins.
/// - Replays of recorded history with a candidate rule set: admins (clinical engineering) only.
/// - Device commands: roles the hospital grants that command (`CommandGrants`), on a device whose
///   current patient they may see; a device serving nobody, charge nurses and hospital-wide roles.
public struct AccessPolicy: Sendable, Equatable {
    public var commandGrants: CommandGrants

    public init(commandGrants: CommandGrants) { self.commandGrants = commandGrants }

    /// The policy with `CommandGrants.defaultSetting`.
    public static let hospitalDefault = AccessPolicy(commandGrants: CommandGrants(grants: [
        .chargeNurse: Set(DeviceCommand.Name.allCases), .physician: Set(DeviceCommand.Name.allCases),
        .admin: Set(DeviceCommand.Name.allCases), .nurse: [.silence],
    ]))

    public func check(_ who: Principal, _ action: StaffAction, in directory: WardDirectory) -> AccessRefusal? {
        switch action {
        case .viewPatient(let patient):
            return directory.check(who, mayView: patient)
        case .viewAlarm(let patient?), .acknowledgeAlarm(let patient?):
            return directory.check(who, mayView: patient)
        case .viewAlarm(nil), .acknowledgeAlarm(nil):
            return who.role.reach == .hospital ? nil : .notPermitted("an alarm of an unassigned device is for hospital-wide roles")
        case .setAlarmLimits(let patient):
            if let refusal = directory.check(who, mayView: patient) { return refusal }
            return who.role == .physician || who.role == .admin ? nil : .notPermitted("only a physician may change a patient's alarm limits")
        case .admit(let to, let from):
            return manages(who, to.ward) ?? from.flatMap { manages(who, $0.ward) }
        case .discharge(let place):
            return manages(who, place.ward)
        case .manageCare(let place):
            return manages(who, place?.ward)
        case .assignDevice(let current, let target):
            // Taking a device off another ward's patient ends that patient's monitoring.
            return current.flatMap { manages(who, $0.ward, device: true) } ?? manages(who, target.ward)
        case .viewDevice(let current?):
            return reaches(who, current, directory)
        case .viewDevice(nil):
            return who.role.reach == .hospital || who.role == .chargeNurse ? nil
                : .notPermitted("a device serving no patient is shown to charge nurses and hospital-wide roles only")
        case .unassignDevice(let current):
            return manages(who, current?.ward, device: true)
        case .commandDevice(let command, let current):
            guard commandGrants.allows(who.role, command) else {
                return .notPermitted("\(who.role.rawValue) may not send \(command.rawValue) to a device (WARDLINE_COMMAND_ROLES)")
            }
            guard let current else {
                return who.role.reach == .hospital || who.role == .chargeNurse ? nil
                    : .notPermitted("a device serving no patient takes commands from charge nurses and hospital-wide roles only")
            }
            return reaches(who, current, directory)
        case .viewWardReport(let ward):
            // A ward-management view (who answers alarms how fast), not a bedside one: nurses
            // and physicians are refused even on their own ward.
            return manages(who, ward)
        case .replayRules:
            // Reads the whole hospital's recorded readings and costs a core while it runs.
            return who.role == .admin ? nil : .notPermitted("only an admin may replay recorded history with a rule set")
        }
    }

    public func allows(_ who: Principal, _ action: StaffAction, in directory: WardDirectory) -> Bool {
        check(who, action, in: directory) == nil
    }

    /// Ward management: charge nurses on their own ward, admins everywhere. `ward` nil: nothing of
    /// any ward is at stake (a patient not admitted, a device serving nobody).
    private func manages(_ who: Principal, _ ward: String?, device: Bool = false) -> AccessRefusal? {
        switch who.role {
        case .admin: return nil
        case .chargeNurse where ward == nil || ward == who.ward: return nil
        default:
            let what = device ? "a device of ward \(ward ?? who.ward)" : "ward \(ward ?? who.ward)"
            return .notPermitted("\(who.role.rawValue) \(who.userID) may not manage \(what)")
        }
    }

    /// Sight of a patient whose place the caller read just now (the directory may be a refresh behind).
    private func reaches(_ who: Principal, _ place: PatientPlace, _ directory: WardDirectory) -> AccessRefusal? {
        var fresh = directory
        fresh.places[place.patientID] = place
        return fresh.check(who, mayView: place.patientID)
    }
}
