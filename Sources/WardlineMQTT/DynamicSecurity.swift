import Foundation
import Synchronization

/// One command of mosquitto's dynamic security plugin, as the plugin's JSON names it
/// (`createClient`, `deleteRole`, …). Unset fields are left out of the JSON.
public struct DynamicSecurityCommand: Encodable, Sendable {
    public struct RoleRef: Encodable, Sendable {
        public var rolename: String
    }
    public struct ACL: Encodable, Sendable {
        public var acltype: String
        public var topic: String
        public var allow = true
        public init(_ acltype: String, _ topic: String) {
            self.acltype = acltype
            self.topic = topic
        }
    }

    public var command: String
    public var username: String?
    public var password: String?
    public var clientid: String?
    public var rolename: String?
    public var textname: String?
    public var roles: [RoleRef]?
    public var acls: [ACL]?

    public init(_ command: String, username: String? = nil, password: String? = nil, clientid: String? = nil,
                rolename: String? = nil, textname: String? = nil, roles: [String]? = nil, acls: [ACL]? = nil) {
        self.command = command
        self.username = username
        self.password = password
        self.clientid = clientid
        self.rolename = rolename
        self.textname = textname
        self.roles = roles?.map { RoleRef(rolename: $0) }
        self.acls = acls
    }
}

/// The plugin's answer to one command: `error` is nil when it succeeded.
public struct DynamicSecurityResponse: Decodable, Sendable {
    public var command: String
    public var error: String?
    /// `getClient`'s answer: the client's roles (other commands carry none).
    public var data: ClientData?
    public struct ClientData: Decodable, Sendable {
        public var client: Client?
        public struct Client: Decodable, Sendable {
            public var username: String
            public var clientid: String?
            public var roles: [Role]?
            public struct Role: Decodable, Sendable { public var rolename: String }
        }
    }
}

public struct DynamicSecurityError: Error, CustomStringConvertible {
    public let description: String
}

/// Sends dynamic security commands to the broker (`$CONTROL/dynamic-security/v1`) and waits for
/// the plugin's answers, each call over a connection of its own that is closed afterwards.
///
/// The connection needs an account with the plugin's admin role; Wardline's ingest connection
/// never has it. The broker processes one connection's packets in order, so the response
/// subscription made on connect is in place before the command is published. Commands carry
/// passwords: nothing here logs a command or a payload.
public final class DynamicSecurityClient: Sendable {
    static let requestTopic = "$CONTROL/dynamic-security/v1"
    static let responseTopic = "$CONTROL/dynamic-security/v1/response"

    private let options: MQTTClient.Options
    private let timeoutSeconds: Double

    /// `options` gives host, port, TLS and the admin account; its client id is replaced by a
    /// fresh one per call, so concurrent calls (REST and the CLI) never take each other's session.
    public init(options: MQTTClient.Options, timeoutSeconds: Double = 10) {
        var o = options
        o.cleanSession = true
        o.subscriptions = [Self.responseTopic]
        o.will = nil
        o.reconnectDelayMax = 2
        self.options = o
        self.timeoutSeconds = timeoutSeconds
    }

    /// Runs the commands as one request; the answers come back in the same order.
    public func run(_ commands: [DynamicSecurityCommand]) throws -> [DynamicSecurityResponse] {
        guard !commands.isEmpty else { return [] }
        var o = options
        o.clientID = "wardline-admin-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let state = Mutex<(connected: Bool, refused: String?, answer: Data?)>((false, nil, nil))
        let changed = DispatchSemaphore(value: 0)
        let client = try MQTTClient(options: o, onMessage: { m in
            guard m.topic == Self.responseTopic else { return .kept }
            state.withLock { $0.answer = m.payload }
            changed.signal()
            return .kept
        }, onConnection: { event in
            switch event {
            case .connected: state.withLock { $0.connected = true }
            case .refused(_, let reason): state.withLock { $0.refused = reason }
            case .unreachable(let reason), .disconnected(_, let reason): state.withLock { if !$0.connected { $0.refused = reason } }
            }
            changed.signal()
        })
        try client.start()
        defer { client.stop() }
        let deadline = DispatchTime.now() + timeoutSeconds
        func wait(until done: () -> Bool) throws {
            while !done() {
                if let refused = state.withLock({ $0.refused }) {
                    throw DynamicSecurityError(description: "broker \(o.host):\(o.port) refused the admin connection: \(refused)")
                }
                if changed.wait(timeout: deadline) == .timedOut {
                    throw DynamicSecurityError(description: "broker \(o.host):\(o.port) did not answer within \(Int(timeoutSeconds)) s")
                }
            }
        }
        try wait { state.withLock { $0.connected } }
        struct Request: Encodable { var commands: [DynamicSecurityCommand] }
        try client.publish(topic: Self.requestTopic, payload: Array(try JSONEncoder().encode(Request(commands: commands))), qos: 1)
        try wait { state.withLock { $0.answer != nil } }
        struct Answer: Decodable { var responses: [DynamicSecurityResponse] }
        guard let data = state.withLock({ $0.answer }),
              let answer = try? JSONDecoder().decode(Answer.self, from: data), answer.responses.count == commands.count else {
            throw DynamicSecurityError(description: "the broker's dynamic security answer was not understood")
        }
        return answer.responses
    }
}
