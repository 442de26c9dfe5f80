import Testing
import WardlineHub
import WardlineWard

/// Every action by role and ward, against one small hospital: ward 4B (bed 1: PAT-4B-1, in nurse
/// n4's care; bed 2: PAT-4B-2) and ward 9Z (PAT-9Z-1, in nurse n9's care).
@Suite struct AccessPolicyTests {
    static let bed1 = PatientPlace(patientID: "PAT-4B-1", ward: "4B", bed: "1")
    static let bed2 = PatientPlace(patientID: "PAT-4B-2", ward: "4B", bed: "2")
    static let nineZ = PatientPlace(patientID: "PAT-9Z-1", ward: "9Z", bed: "1")
    static let directory = WardDirectory(places: [bed1.patientID: bed1, bed2.patientID: bed2, nineZ.patientID: nineZ],
                                         careAssignments: ["n4": ["PAT-4B-1"], "n9": ["PAT-9Z-1"]])
    static let policy = AccessPolicy.hospitalDefault

    static let nurse4B = Principal(userID: "n4", role: .nurse, ward: "4B")
    static let nurse9Z = Principal(userID: "n9", role: .nurse, ward: "9Z")
    static let charge4B = Principal(userID: "c4", role: .chargeNurse, ward: "4B")
    static let charge7A = Principal(userID: "c7", role: .chargeNurse, ward: "7A")
    static let physician4B = Principal(userID: "d4", role: .physician, ward: "4B")
    static let physician7A = Principal(userID: "d7", role: .physician, ward: "7A")
    static let rapid = Principal(userID: "r1", role: .rapidResponse, ward: "*")
    static let admin = Principal(userID: "a1", role: .admin, ward: "*")

    static let cases: [(Principal, StaffAction, Bool)] = [
        // Seeing a patient and acknowledging her alarms.
        (nurse4B, .viewPatient("PAT-4B-1"), true),
        (nurse4B, .viewPatient("PAT-4B-2"), false),
        (nurse9Z, .acknowledgeAlarm(patientID: "PAT-4B-1"), false),  // finding 1: 9Z nurse, 4B alarm
        (nurse4B, .acknowledgeAlarm(patientID: "PAT-4B-1"), true),
        (nurse4B, .acknowledgeAlarm(patientID: "PAT-4B-2"), false),
        (charge4B, .acknowledgeAlarm(patientID: "PAT-4B-2"), true),
        (charge7A, .acknowledgeAlarm(patientID: "PAT-4B-2"), false),
        (physician7A, .acknowledgeAlarm(patientID: "PAT-4B-1"), false),
        (rapid, .acknowledgeAlarm(patientID: "PAT-9Z-1"), true),
        (charge4B, .acknowledgeAlarm(patientID: nil), false),
        (admin, .acknowledgeAlarm(patientID: nil), true),
        (charge4B, .viewAlarm(patientID: nil), false),
        (rapid, .viewAlarm(patientID: nil), true),
        // Alarm limits are prescribed.
        (physician4B, .setAlarmLimits(patientID: "PAT-4B-1"), true),
        (physician7A, .setAlarmLimits(patientID: "PAT-4B-1"), false),
        (charge4B, .setAlarmLimits(patientID: "PAT-4B-1"), false),
        (nurse4B, .setAlarmLimits(patientID: "PAT-4B-1"), false),
        (rapid, .setAlarmLimits(patientID: "PAT-4B-1"), false),
        (admin, .setAlarmLimits(patientID: "PAT-9Z-1"), true),
        // Admission, discharge, care.
        (charge4B, .admit(to: bed1, from: nil), true),
        (charge4B, .admit(to: bed1, from: nineZ), false),  // taking a patient from another ward
        (charge7A, .admit(to: bed1, from: nil), false),
        (physician4B, .admit(to: bed1, from: nil), false),
        (admin, .admit(to: bed1, from: nineZ), true),
        (charge4B, .discharge(bed2), true),
        (charge7A, .discharge(bed2), false),
        (nurse4B, .discharge(bed1), false),
        (charge4B, .manageCare(bed1), true),
        (charge7A, .manageCare(bed1), false),
        (nurse4B, .manageCare(bed1), false),
        (charge7A, .manageCare(nil), true),
        // The alarm-burden report: ward management, not bedside care.
        (charge4B, .viewWardReport(ward: "4B"), true),
        (charge7A, .viewWardReport(ward: "4B"), false),
        (nurse4B, .viewWardReport(ward: "4B"), false),
        (physician4B, .viewWardReport(ward: "4B"), false),
        (rapid, .viewWardReport(ward: "4B"), false),
        (admin, .viewWardReport(ward: "9Z"), true),
        (admin, .replayRules, true),
        (charge4B, .replayRules, false),
        (physician4B, .replayRules, false),
        (rapid, .replayRules, false),
        (nurse4B, .replayRules, false),
        // Device assignment: the ward it comes from and the ward it goes to.
        (charge4B, .assignDevice(current: nil, target: bed1), true),
        (charge4B, .assignDevice(current: bed2, target: bed1), true),
        (charge4B, .assignDevice(current: nineZ, target: bed1), false),  // takes it off a 9Z patient
        (charge7A, .assignDevice(current: nil, target: bed1), false),
        (charge7A, .assignDevice(current: bed1, target: PatientPlace(patientID: "PAT-7A-1", ward: "7A", bed: "1")), false),
        (physician4B, .assignDevice(current: nil, target: bed1), false),
        (admin, .assignDevice(current: nineZ, target: bed1), true),
        (charge7A, .unassignDevice(current: bed1), false),  // finding 2: 7A charge nurse, 4B device
        (charge4B, .unassignDevice(current: bed1), true),
        (charge7A, .unassignDevice(current: nil), true),
        (nurse4B, .unassignDevice(current: bed1), false),
        (admin, .unassignDevice(current: nineZ), true),
        (charge7A, .viewDevice(current: bed1), false),
        (charge7A, .viewDevice(current: nil), true),
        (nurse4B, .viewDevice(current: nil), false),
        // Device commands: granted roles, on devices of patients they may see.
        (physician7A, .commandDevice(.silence, current: bed1), false),  // finding 3: 7A physician, 4B device
        (physician4B, .commandDevice(.silence, current: bed1), true),
        (charge4B, .commandDevice(.reboot, current: bed2), true),
        (charge7A, .commandDevice(.identify, current: bed2), false),
        (nurse4B, .commandDevice(.silence, current: bed1), true),
        (nurse4B, .commandDevice(.silence, current: bed2), false),  // not in her care
        (nurse9Z, .commandDevice(.silence, current: bed1), false),
        (nurse4B, .commandDevice(.reboot, current: bed1), false),  // nurses are granted silence only
        (nurse4B, .commandDevice(.setInterval, current: bed1), false),
        (rapid, .commandDevice(.silence, current: bed1), false),  // not granted by default
        (admin, .commandDevice(.calibrate, current: nineZ), true),
        (charge7A, .commandDevice(.identify, current: nil), true),
        (physician4B, .commandDevice(.identify, current: nil), false),
        (nurse4B, .commandDevice(.silence, current: nil), false),
    ]

    @Test(arguments: cases)
    func decides(who: Principal, action: StaffAction, allowed: Bool) {
        let refusal = Self.policy.check(who, action, in: Self.directory)
        #expect((refusal == nil) == allowed, "\(who.role.rawValue)@\(who.ward) \(action): \(refusal?.description ?? "allowed")")
        if let refusal { #expect(!refusal.description.isEmpty) }
    }

    @Test func refusalsSayWhy() {
        #expect(Self.policy.check(Self.nurse9Z, .acknowledgeAlarm(patientID: "PAT-4B-1"), in: Self.directory)?.description
                == "patient PAT-4B-1 is on another ward than 9Z")
        #expect(Self.policy.check(Self.charge7A, .unassignDevice(current: Self.bed1), in: Self.directory)?.description
                == "charge_nurse c7 may not manage a device of ward 4B")
        #expect(Self.policy.check(Self.nurse4B, .commandDevice(.reboot, current: Self.bed1), in: Self.directory)?.description
                == "nurse may not send reboot to a device (WARDLINE_COMMAND_ROLES)")
    }

    /// A patient admitted a moment ago is judged by the place the caller read, not a stale directory.
    @Test func commandsUseTheFreshPlace() {
        let newcomer = PatientPlace(patientID: "PAT-4B-9", ward: "4B", bed: "9")
        #expect(Self.policy.allows(Self.physician4B, .commandDevice(.identify, current: newcomer), in: Self.directory))
        #expect(!Self.policy.allows(Self.physician7A, .commandDevice(.identify, current: newcomer), in: Self.directory))
    }

    @Test func grantsParse() throws {
        let grants = try CommandGrants(parsing: CommandGrants.defaultSetting)
        #expect(grants == AccessPolicy.hospitalDefault.commandGrants)
        let narrow = try CommandGrants(parsing: " physician:identify , admin ")
        #expect(narrow.allows(.physician, .identify) && !narrow.allows(.physician, .silence) && narrow.allows(.admin, .reboot))
        #expect(!narrow.allows(.chargeNurse, .identify))
        #expect(try CommandGrants(parsing: "").grants.isEmpty)
        #expect(throws: CommandGrants.ParseError.self) { try CommandGrants(parsing: "janitor") }
        #expect(throws: CommandGrants.ParseError.self) { try CommandGrants(parsing: "nurse:self_destruct") }
        #expect(throws: CommandGrants.ParseError.self) { try CommandGrants(parsing: "nurse:silence:now") }
    }
}

@Suite struct DeviceCommandTests {
    static let cases: [(String, DeviceCommand?, String?)] = [
        (#"{"command":"identify"}"#, DeviceCommand(name: .identify), nil),
        (#"{"command":"identify","args":{}}"#, DeviceCommand(name: .identify), nil),
        (#"{"command":"reboot"}"#, DeviceCommand(name: .reboot), nil),
        (#"{"command":"calibrate","args":{"force":1}}"#, nil, "args.force"),
        (#"{"command":"identify","args":{"seconds":5}}"#, nil, "args.seconds"),
        (#"{"command":"silence","args":{"seconds":120}}"#, DeviceCommand(name: .silence, arguments: ["seconds": 120]), nil),
        (#"{"command":"silence","args":{"seconds":0}}"#, DeviceCommand(name: .silence, arguments: ["seconds": 0]), nil),
        (#"{"command":"silence","args":{"seconds":121}}"#, nil, "args.seconds"),
        (#"{"command":"silence","args":{"seconds":-1}}"#, nil, "args.seconds"),
        (#"{"command":"silence"}"#, nil, "args.seconds"),
        (#"{"command":"silence","args":{"seconds":"60"}}"#, nil, "args"),
        (#"{"command":"silence","args":{"seconds":true}}"#, nil, "args"),
        (#"{"command":"silence","args":{"seconds":60.5}}"#, nil, "args"),
        (#"{"command":"silence","args":[60]}"#, nil, "args"),
        (#"{"command":"set_interval","args":{"seconds":1}}"#, DeviceCommand(name: .setInterval, arguments: ["seconds": 1]), nil),
        (#"{"command":"set_interval","args":{"seconds":3600}}"#, DeviceCommand(name: .setInterval, arguments: ["seconds": 3600]), nil),
        (#"{"command":"set_interval","args":{"seconds":0}}"#, nil, "args.seconds"),
        (#"{"command":"set_interval","args":{"seconds":3601}}"#, nil, "args.seconds"),
        (#"{"command":"set_interval","args":{"seconds":99999999999999999999}}"#, nil, "args"),
        (#"{"command":"self_destruct"}"#, nil, "command"),
        (#"{"command":7}"#, nil, "command"),
        (#"{}"#, nil, "command"),
    ]

    @Test(arguments: cases)
    func allowlistWithBoundedArguments(body: String, expected: DeviceCommand?, field: String?) {
        do throws(DeviceCommand.Problem) {
            let command = try DeviceCommand.parse(json: Array(body.utf8))
            #expect(command == expected, "\(body)")
            #expect(field == nil, "\(body) was accepted")
        } catch {
            #expect(expected == nil, "\(body): \(error)")
            #expect(error.field == field, "\(body): \(error)")
        }
    }
}
