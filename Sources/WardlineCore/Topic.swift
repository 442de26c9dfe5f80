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
        /// The right shape, but the device id is empty.
        case emptyDeviceID
        /// The right shape, but the device id breaks its rule (too long, or a character outside
        /// `A–Z a–z 0–9 . _ : -`); `hint` is the id made safe to store and log (`DeviceText.hint`).
        case badDeviceID(DeviceText.Problem, hint: String)
    }

    /// Parses a topic; device ids are 1–`maxDeviceIDBytes` characters of `A–Z a–z 0–9 . _ : -`.
    /// Only an id that passed is ever returned, so nothing downstream (registry, engine, store)
    /// sees one that did not.
    public static func parse(_ topic: String, maxDeviceIDBytes: Int = 64) -> Result<DeviceTopic, ParseError> {
        let parts = topic.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].elementsEqual("devices".utf8),
              let channel = Channel(rawValue: String(decoding: parts[2], as: UTF8.self))
        else { return .failure(.unknown(topic)) }
        guard !parts[1].isEmpty else { return .failure(.emptyDeviceID) }
        let id = String(decoding: parts[1], as: UTF8.self)
        if let problem = DeviceText.check(id, field: "device id in the topic", kind: .identifier, maxLength: maxDeviceIDBytes) {
            return .failure(.badDeviceID(problem, hint: DeviceText.hint(id)))
        }
        return .success(DeviceTopic(deviceID: id, channel: channel))
    }
}
