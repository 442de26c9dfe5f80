/// The MQTT topics devices publish on: `devices/{device_id}/{vitals|alerts|status}`.
public struct DeviceTopic: Sendable, Equatable {
    public enum Channel: String, Sendable, CaseIterable { case vitals, alerts, status }

    public var deviceID: String
    public var channel: Channel

    public init(deviceID: String, channel: Channel) {
        self.deviceID = deviceID
        self.channel = channel
    }

    /// The subscription filters Wardline uses.
    public static let subscriptions = Channel.allCases.map { "devices/+/\($0.rawValue)" }

    public enum ParseError: Error, Equatable {
        /// Not `devices/{id}/{channel}` at all.
        case unknown(String)
        /// The right shape, but the device id is empty, too long or has odd characters.
        case malformedDeviceID(String)
    }

    /// Parses a topic; device ids are 1–64 characters of `A–Z a–z 0–9 . _ : -`.
    public static func parse(_ topic: String) -> Result<DeviceTopic, ParseError> {
        let parts = topic.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].elementsEqual("devices".utf8),
              let channel = Channel(rawValue: String(decoding: parts[2], as: UTF8.self))
        else { return .failure(.unknown(topic)) }
        let id = parts[1]
        guard (1...64).contains(id.count), id.allSatisfy(isDeviceIDByte) else {
            return .failure(.malformedDeviceID(String(decoding: id, as: UTF8.self)))
        }
        return .success(DeviceTopic(deviceID: String(decoding: id, as: UTF8.self), channel: channel))
    }

    private static func isDeviceIDByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"),
             UInt8(ascii: ":"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }
}
