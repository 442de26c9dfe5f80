import WardlineCore

/// What the engine tells the rest of Wardline. The store, the WebSocket hub, Kafka and the task
/// queue each subscribe to this one stream; every alarm event carries the transition record to
/// append to the alarm's history.
public enum EngineEvent: Sendable, Equatable {
    /// A reading was scored: the patient's NEWS2 from the newest fresh value of each parameter.
    case scored(Reading, News2Score)
    // Alarm events are boxed (`indirect`): they are rare, and inline they would make every
    // `.scored` event twice as large to copy.
    indirect case alarmRaised(Alarm, AlarmTransition)
    /// Acknowledged, priority raised, reactivated, latched, or condition returned.
    indirect case alarmUpdated(Alarm, AlarmTransition)
    indirect case alarmResolved(Alarm, AlarmTransition)
    /// A high-priority alarm is still unacknowledged: escalate to `level` (1, 2, …). The task queue
    /// decides who that pages.
    indirect case escalationDue(Alarm, level: Int, AlarmTransition)

    package init(_ alarm: Alarm, _ t: AlarmTransition) {
        switch t.kind {
        case .raised: self = .alarmRaised(alarm, t)
        case .resolved: self = .alarmResolved(alarm, t)
        case .escalated: self = .escalationDue(alarm, level: t.escalationLevel, t)
        default: self = .alarmUpdated(alarm, t)
        }
    }

    /// The alarm as it stands after this event, for alarm events.
    public var alarm: Alarm? {
        switch self {
        case .scored: nil
        case .alarmRaised(let a, _), .alarmUpdated(let a, _), .alarmResolved(let a, _), .escalationDue(let a, _, _): a
        }
    }

    /// The history record to store, for alarm events.
    public var transition: AlarmTransition? {
        switch self {
        case .scored: nil
        case .alarmRaised(_, let t), .alarmUpdated(_, let t), .alarmResolved(_, let t), .escalationDue(_, _, let t): t
        }
    }
}
