import WardlineCore
import WardlineEngine

/// One alarm as a replay saw it: from its raise to the end of its condition.
public struct AlarmEpisode: Sendable, Equatable {
    public var id: String
    public var patientID: String?
    public var deviceID: String?
    public var ruleID: String
    public var category: AlarmCategory
    /// The engine's clock (Wardline's receipt of the reading) when it was raised.
    public var raisedAt: Int64
    /// The device time of the reading that raised it (what the live run stored as well).
    public var raisedReadingTime: Int64?
    public var priority: AlarmPriority
    /// When it first was (or became) high priority, on the engine's clock, and the device time of
    /// the reading that made it so (the patient's time: what a delay is measured in).
    public var highAt: Int64?
    public var highReadingTime: Int64?
    /// When its condition ended (latched or resolved); nil: still present when the period ended.
    public var clearedAt: Int64?
    public var value: Double?
    public var threshold: Double?

    public init(id: String, patientID: String?, deviceID: String?, ruleID: String, category: AlarmCategory, raisedAt: Int64,
                raisedReadingTime: Int64?, priority: AlarmPriority, highAt: Int64?, highReadingTime: Int64?, clearedAt: Int64?,
                value: Double?, threshold: Double?) {
        self.id = id
        self.patientID = patientID
        self.deviceID = deviceID
        self.ruleID = ruleID
        self.category = category
        self.raisedAt = raisedAt
        self.raisedReadingTime = raisedReadingTime
        self.priority = priority
        self.highAt = highAt
        self.highReadingTime = highReadingTime
        self.clearedAt = clearedAt
        self.value = value
        self.threshold = threshold
    }

    /// Raise to end of condition (or to `end`).
    public func duration(end: Int64) -> Int64 { (clearedAt ?? end) - raisedAt }
}

/// The recorded readings (and the devices' own alerts and status) of a period run through one
/// engine, on the recorded clock: each at its receipt time, the timers ticking every 500 ms of
/// that clock in between, as the consumer thread does live (`PipelineConsumer`). Pure: the
/// events are handed in, in receipt order.
public final class ReplayRun {
    public let engine: AlertEngine
    public private(set) var episodes: [AlarmEpisode] = []
    public private(set) var readings = 0
    private var open: [String: Int] = [:]
    private var lastTick: Int64 = .min
    private var events: [EngineEvent] = []
    public private(set) var clock: Int64 = 0

    public init(configuration: EngineConfiguration) throws {
        // Alarm ids as live: "<patient>/<rule>[@device]/<raisedAt>", so a replay with the rules in
        // force can be checked against the alarms the live run stored.
        engine = try AlertEngine(configuration: configuration)
    }

    public func feed(_ r: Reading) {
        readings += 1
        feed(.reading(r), at: r.receivedAt)
    }

    /// A device's own alert or status message, at its receipt time.
    public func feed(_ e: IngestEvent) {
        switch e {
        case .reading(let r): feed(r)
        case .deviceStatus, .deviceAlert: feed(e, at: e.receivedAt)
        case .rejected: return
        }
    }

    private func feed(_ e: IngestEvent, at receivedAt: Int64) {
        tick(until: receivedAt)
        clock = receivedAt
        events.removeAll(keepingCapacity: true)
        engine.process(e, now: receivedAt, into: &events)
        note(events)
    }

    /// The timers up to `now` (the end of the period, or the next reading's receipt).
    public func tick(until now: Int64) {
        if lastTick == .min { lastTick = now }
        while now - lastTick >= 500 {
            lastTick += 500
            note(engine.tick(now: lastTick))
        }
    }

    private func note(_ events: [EngineEvent]) {
        for e in events {
            guard let a = e.alarm, let t = e.transition else { continue }
            switch t.kind {
            case .raised:
                open[a.id] = episodes.count
                episodes.append(AlarmEpisode(id: a.id, patientID: a.patientID, deviceID: a.deviceID, ruleID: a.ruleID,
                                             category: a.category, raisedAt: t.at, raisedReadingTime: t.readingTime,
                                             priority: a.priority, highAt: a.priority == .high ? t.at : nil,
                                             highReadingTime: a.priority == .high ? t.readingTime : nil, clearedAt: nil,
                                             value: t.value, threshold: t.threshold))
            case .priorityRaised:
                guard let i = open[a.id] else { continue }
                episodes[i].priority = max(episodes[i].priority, a.priority)
                if a.priority == .high && episodes[i].highAt == nil {
                    episodes[i].highAt = t.at
                    episodes[i].highReadingTime = t.readingTime
                }
            case .latched:
                if let i = open[a.id], episodes[i].clearedAt == nil { episodes[i].clearedAt = t.at }
            case .conditionReturned:
                if let i = open[a.id] { episodes[i].clearedAt = nil }
            case .resolved:
                if let i = open.removeValue(forKey: a.id), episodes[i].clearedAt == nil { episodes[i].clearedAt = t.at }
            default:
                continue
            }
        }
    }
}
