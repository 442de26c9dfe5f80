/// The frames waiting for one socket. A slow reader never slows anyone else, and what it misses
/// is chosen with care:
/// - alarms and control frames are never dropped; if more than `alarmLimit` wait, the client is
///   too slow to be trusted with alarms and must be disconnected (`push` says so);
/// - vitals are coalesced per patient: a slow client gets each patient's newest reading, never a
///   backlog of stale ones;
/// - other updates (device status, notifications) keep the newest `otherLimit`.
public struct OutboundQueue: Sendable {
    public enum Kind: Sendable { case alarm, control, vitals(patientID: String), other }

    public let alarmLimit: Int
    public let otherLimit: Int
    private var urgent = FIFO<[UInt8]>()
    /// When each waiting alarm or control frame was queued (epoch ms), oldest first.
    private var urgentSince = FIFO<Int64>()
    private var other = FIFO<[UInt8]>()
    private var vitals: [String: [UInt8]] = [:]
    private var vitalsOrder = FIFO<String>()
    public private(set) var coalesced = 0
    public private(set) var dropped = 0

    public init(alarmLimit: Int = 1024, otherLimit: Int = 256) {
        self.alarmLimit = alarmLimit
        self.otherLimit = otherLimit
    }

    /// Queues a frame; false when the alarm queue overflowed and the client must go.
    public mutating func push(_ frame: [UInt8], kind: Kind, now: Int64 = 0) -> Bool {
        switch kind {
        case .alarm, .control:
            urgent.append(frame)
            urgentSince.append(now)
            return urgent.count <= alarmLimit
        case .vitals(let patient):
            if vitals.updateValue(frame, forKey: patient) == nil { vitalsOrder.append(patient) } else { coalesced += 1 }
        case .other:
            other.append(frame)
            if other.count > otherLimit { _ = other.popFirst(); dropped += 1 }
        }
        return true
    }

    /// The next frame to write: alarms and control first, then status, then vitals patient by patient.
    public mutating func pop() -> [UInt8]? {
        if let f = urgent.popFirst() {
            _ = urgentSince.popFirst()
            return f
        }
        if let f = other.popFirst() { return f }
        while let patient = vitalsOrder.popFirst() {
            if let f = vitals.removeValue(forKey: patient) { return f }
        }
        return nil
    }

    /// When the oldest alarm or control frame still waiting was queued; nil when none waits.
    public var oldestUrgentSince: Int64? { urgentSince.first }

    public var isEmpty: Bool { urgent.count == 0 && other.count == 0 && vitals.isEmpty }
    public var count: Int { urgent.count + other.count + vitals.count }
}

/// A FIFO with amortised O(1) pops (an array and a head index, compacted now and then).
struct FIFO<Element: Sendable>: Sendable {
    private var items: [Element] = []
    private var head = 0
    var count: Int { items.count - head }
    var first: Element? { head < items.count ? items[head] : nil }
    mutating func append(_ e: Element) { items.append(e) }
    mutating func popFirst() -> Element? {
        guard head < items.count else { return nil }
        let e = items[head]
        head += 1
        if head == items.count { items.removeAll(keepingCapacity: true); head = 0 } else if head > 64 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
        return e
    }
}
