import WardlineCore

/// IEC 60601-1-8 alarm states as the engine keeps them.
public enum AlarmState: String, Sendable, Hashable {
    /// Sounding: nobody has acknowledged it yet.
    case active
    /// Someone has taken responsibility; it stays open while its condition lasts.
    case acknowledged
    /// Over: the condition cleared (or, for a latched alarm, cleared and was acknowledged).
    case resolved
}

/// Physiological alarms are about the patient; technical ones about the equipment or the data.
public enum AlarmCategory: String, Sendable, Hashable {
    case physiological
    case technical
}

/// One alarm condition for one patient, from raise to resolution.
///
/// There is at most one open (active or acknowledged) alarm per patient and rule — and per device,
/// for the technical ones — so a condition that lasts or comes back while its alarm is open updates
/// that alarm instead of raising another. A value type: the engine owns the open alarms and hands
/// out copies in its events.
public struct Alarm: Sendable, Hashable, Identifiable {
    /// Stable and unique: deterministic from the patient, rule and raise time unless an id maker is
    /// injected (see `AlertEngine.init`).
    public var id: String
    /// Nil only for a device's own alert when the device is assigned to no patient.
    public var patientID: String?
    /// The device whose data or state raised it (nil for NEWS2 and for rules over several devices).
    public var deviceID: String?
    /// `"spo2.low"`, `"hr.rising"`, `"news2"`, `"device.offline"`, `"device.alert.<code>"`, …
    public var ruleID: String
    public var category: AlarmCategory
    public var vital: Vital?
    public var priority: AlarmPriority
    public var state: AlarmState
    /// A latching alarm stays active after its condition clears, until acknowledged.
    public var latching: Bool
    /// Whether the condition still holds (false on a latched alarm whose value has recovered).
    public var conditionPresent: Bool
    /// What the nurse reads: "SpO2 86 % < 90 %".
    public var message: String
    /// The value and the limit at the most recent transition.
    public var value: Double?
    public var threshold: Double?
    /// When the condition began, epoch ms: reading time for physiological alarms, the engine's
    /// clock for technical ones.
    public var conditionSince: Int64
    /// Engine clock, epoch ms.
    public var raisedAt: Int64
    /// When it last became active at its present priority (raised, reactivated or priority
    /// raised), engine clock: escalation counts from here.
    public var activeSince: Int64
    public var acknowledgedAt: Int64?
    public var acknowledgedBy: String?
    public var resolvedAt: Int64?
    /// How many escalations it has produced since it last became active.
    public var escalationLevel: Int
    /// Number of transitions so far (1 after raising); (id, revision) identifies each record.
    public var revision: Int
    /// The version of the rule set that raised it (nil: stored before rule sets were recorded).
    public var ruleSet: String?

    public init(id: String, patientID: String?, deviceID: String?, ruleID: String, category: AlarmCategory,
                vital: Vital?, priority: AlarmPriority, state: AlarmState = .active, latching: Bool,
                conditionPresent: Bool = true, message: String, value: Double?, threshold: Double?,
                conditionSince: Int64, raisedAt: Int64, activeSince: Int64? = nil, acknowledgedAt: Int64? = nil,
                acknowledgedBy: String? = nil, resolvedAt: Int64? = nil, escalationLevel: Int = 0, revision: Int = 1) {
        self.id = id
        self.patientID = patientID
        self.deviceID = deviceID
        self.ruleID = ruleID
        self.category = category
        self.vital = vital
        self.priority = priority
        self.state = state
        self.latching = latching
        self.conditionPresent = conditionPresent
        self.message = message
        self.value = value
        self.threshold = threshold
        self.conditionSince = conditionSince
        self.raisedAt = raisedAt
        self.activeSince = activeSince ?? raisedAt
        self.acknowledgedAt = acknowledgedAt
        self.acknowledgedBy = acknowledgedBy
        self.resolvedAt = resolvedAt
        self.escalationLevel = escalationLevel
        self.revision = revision
    }

    public var isOpen: Bool { state != .resolved }
}

/// One entry of an alarm's history: what changed, when, by whom, and the value and limit then.
/// The engine emits one with every alarm event; the store appends them to the `alerts` history.
public struct AlarmTransition: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        case raised
        /// A more severe band was confirmed; the alarm now has a higher priority.
        case priorityRaised = "priority_raised"
        /// An acknowledged alarm became active again because its condition worsened.
        case reactivated
        /// The condition cleared but the alarm latches: it stays active until acknowledged.
        case latched
        /// A latched alarm's condition came back before anyone acknowledged it.
        case conditionReturned = "condition_returned"
        case acknowledged
        case escalated
        case resolved
    }

    /// Why an alarm was resolved.
    public enum Resolution: String, Sendable, Hashable {
        case conditionCleared = "condition_cleared"
        /// Acknowledged after its (latched) condition had already cleared.
        case acknowledgedAfterRecovery = "acknowledged_after_recovery"
        /// The device was unassigned from the patient, or moved to another one.
        case deviceUnassigned = "device_unassigned"
        case patientDischarged = "patient_discharged"
    }

    public var alarmID: String
    /// The alarm's revision after this transition.
    public var revision: Int
    public var kind: Kind
    /// Nil for `.raised`.
    public var from: AlarmState?
    public var to: AlarmState
    public var priority: AlarmPriority
    /// Engine clock, epoch ms.
    public var at: Int64
    /// The reading time of the evidence, for transitions a reading caused.
    public var readingTime: Int64?
    /// Who acknowledged (for `.acknowledged`, and for a resolution an acknowledgement caused).
    public var by: String?
    public var value: Double?
    public var threshold: Double?
    public var escalationLevel: Int
    public var resolution: Resolution?

    /// For records read back from outside the engine (the alarm-event topic, on a hub).
    package init(alarmID: String, revision: Int, kind: Kind, from: AlarmState?, to: AlarmState, priority: AlarmPriority, at: Int64,
                 readingTime: Int64?, by: String?, value: Double?, threshold: Double?, escalationLevel: Int, resolution: Resolution?) {
        self.alarmID = alarmID
        self.revision = revision
        self.kind = kind
        self.from = from
        self.to = to
        self.priority = priority
        self.at = at
        self.readingTime = readingTime
        self.by = by
        self.value = value
        self.threshold = threshold
        self.escalationLevel = escalationLevel
        self.resolution = resolution
    }
}
