/// Decides which rejected messages keep their sample (topic, detail, payload prefix) in
/// `rejected_messages`: at most `perWindow` per (device, reason) in each window of
/// `windowMillis` (clock hours by default). The rest are counted into `Tally`s for
/// `rejected_message_counts`, so one device flooding bad input cannot grow the table without bound
/// while every rejection is still accounted for.
///
/// Windows are aligned to the epoch and follow the newest `receivedAt` seen; a message stamped in
/// an older window (a journal replay) counts against the current one. The per-key state is bounded
/// by `maxKeys` per window: beyond it, messages from devices not yet seen this window are counted
/// under the device id `"*"` and not sampled. A value type, not thread-safe: its owner serialises.
public struct RejectionSampler: Sendable {
    /// Device id of tallies for messages with no device id (an unknown topic).
    public static let noDevice = ""
    /// Device id of tallies for devices beyond `maxKeys` in one window.
    public static let otherDevices = "*"

    /// Messages counted but not sampled for one device, reason and window.
    public struct Tally: Sendable, Equatable {
        public var deviceID: String
        public var reason: RejectReason
        /// Epoch milliseconds of the window's start.
        public var windowStart: Int64
        public var unsampled: Int
        /// The newest `receivedAt` among them, epoch milliseconds.
        public var lastReceivedAt: Int64

        public init(deviceID: String, reason: RejectReason, windowStart: Int64, unsampled: Int, lastReceivedAt: Int64) {
            self.deviceID = deviceID
            self.reason = reason
            self.windowStart = windowStart
            self.unsampled = unsampled
            self.lastReceivedAt = lastReceivedAt
        }
    }

    private struct Key: Hashable { var deviceID: String; var reason: RejectReason }
    private struct TallyKey: Hashable { var key: Key; var windowStart: Int64 }

    public let perWindow: Int
    public let windowMillis: Int64
    public let maxKeys: Int
    private var windowStart: Int64 = .min
    private var sampled: [Key: Int] = [:]
    private var tallies: [TallyKey: Tally] = [:]

    public init(perWindow: Int, windowMillis: Int64 = 3_600_000, maxKeys: Int = 10_000) {
        precondition(windowMillis > 0 && perWindow >= 0 && maxKeys > 0)
        self.perWindow = perWindow
        self.windowMillis = windowMillis
        self.maxKeys = maxKeys
    }

    /// True when this rejection should be stored; false when it is only counted.
    public mutating func admit(deviceID: String?, reason: RejectReason, receivedAt: Int64) -> Bool {
        let start = receivedAt - ((receivedAt % windowMillis) + windowMillis) % windowMillis
        if start > windowStart {
            windowStart = start
            sampled.removeAll(keepingCapacity: true)
        }
        var key = Key(deviceID: deviceID ?? Self.noDevice, reason: reason)
        let taken = sampled[key]
        if taken == nil && sampled.count >= maxKeys {
            key.deviceID = Self.otherDevices
        } else if (taken ?? 0) < perWindow {
            sampled[key] = (taken ?? 0) + 1
            return true
        }
        let tallyKey = TallyKey(key: key, windowStart: windowStart)
        if var t = tallies[tallyKey] {
            t.unsampled += 1
            t.lastReceivedAt = max(t.lastReceivedAt, receivedAt)
            tallies[tallyKey] = t
        } else {
            tallies[tallyKey] = Tally(deviceID: key.deviceID, reason: reason, windowStart: windowStart, unsampled: 1,
                                      lastReceivedAt: receivedAt)
        }
        return false
    }

    /// The counts gathered since the last call, oldest window first; the sampler forgets them.
    public mutating func takeTallies() -> [Tally] {
        defer { tallies.removeAll(keepingCapacity: true) }
        return tallies.values.sorted { ($0.windowStart, $0.deviceID, $0.reason.rawValue) < ($1.windowStart, $1.deviceID, $1.reason.rawValue) }
    }
}
