import Foundation
import Logging
import WardlineTasks

/// What goes out to people: a page (with its recipients) or a ward summary, as JSON.
public struct ClinicalNotice: Sendable {
    public var jobID: String
    /// "page" or "ward_summary".
    public var kind: String
    /// One line a pager can show.
    public var text: String
    /// What a log may say of it: ids, rule, tier, never a patient's values (`text` has them).
    public var logLine: String
    public var json: [UInt8]

    public init(jobID: String, kind: String, text: String, logLine: String? = nil, json: [UInt8]) {
        self.jobID = jobID
        self.kind = kind
        self.text = text
        self.logLine = logLine ?? kind
        self.json = json
    }
}

/// One way of getting a notification to people (the hospital's paging gateway, a log, …).
/// `deliver` throws with the reason when it did not get through; the worker then retries.
public protocol DeliveryChannel: AnyObject {
    var name: String { get }
    func deliver(_ n: ClinicalNotice) throws
}

public struct DeliveryError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Makes the channels named in `WARDLINE_NOTIFY_CHANNELS`.
public enum DeliveryChannels {
    public static let known = ["log", "webhook"]

    public static func make(names: [String], webhookURL: String?, timeoutMillis: Int, logger: Logger) throws -> [DeliveryChannel] {
        try names.map { name in
            switch name {
            case "log": return LogChannel(logger: logger)
            case "webhook":
                guard let url = webhookURL else { throw DeliveryError("channel webhook needs WARDLINE_WEBHOOK_URL") }
                return try WebhookChannel(url: url, timeoutMillis: timeoutMillis)
            default: throw DeliveryError("unknown delivery channel \(name) (known: \(known.joined(separator: ", ")))")
            }
        }
    }

    /// The page fallback from `WARDLINE_PAGE_FALLBACK_CHANNEL`: `log`, or a second webhook's URL.
    public static func fallback(_ spec: String, timeoutMillis: Int, logger: Logger) throws -> DeliveryChannel {
        spec == "log" ? LogChannel(logger: logger, name: "fallback-log")
            : try WebhookChannel(url: spec, timeoutMillis: timeoutMillis, name: "fallback-webhook")
    }
}
