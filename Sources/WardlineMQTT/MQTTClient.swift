import CMosquitto
import Foundation

/// One MQTT message as delivered to Wardline.
public struct MQTTMessage: Sendable {
    public var topic: String
    public var payload: Data
    public var qos: Int32
    public var retained: Bool
}

/// Connection state changes, for logs and readiness.
public enum MQTTConnectionEvent: Sendable, Equatable {
    case connected(sessionPresent: Bool)
    /// `code` 0 means a disconnect Wardline asked for; anything else is unexpected.
    case disconnected(code: Int32, reason: String)
    case refused(code: Int32, reason: String)
    /// The first connection attempt failed (broker down or wrong address); retried with backoff.
    case unreachable(reason: String)
}

public struct MQTTError: Error, CustomStringConvertible {
    public let operation: String
    public let code: Int32
    public let message: String
    public var description: String { "mqtt \(operation) failed: \(message) (\(code))" }

    init(_ operation: String, _ code: Int32) {
        self.operation = operation
        self.code = code
        self.message = String(cString: mosquitto_strerror(code))
    }
}

/// The one owner of a libmosquitto handle (`struct mosquitto *`).
///
/// libmosquitto runs its network loop on its own thread (`mosquitto_loop_start`), never on Swift's
/// cooperative pool; `onMessage` and the other handlers are called on that thread, in order. A slow
/// `onMessage` therefore stops the client reading its socket, which is how Wardline applies
/// backpressure to the broker. Publishing is safe from any thread. Reconnects back off by itself.
public final class MQTTClient: @unchecked Sendable {
    public struct Options: Sendable {
        public var host = "127.0.0.1"
        public var port: Int32 = 18830
        public var clientID: String
        /// false: a persistent session, so the broker keeps QoS 1 messages while we are away.
        public var cleanSession = false
        public var keepAliveSeconds: Int32 = 30
        public var username: String?
        public var password: String?
        public var subscriptions: [String] = []
        public var subscriptionQoS: Int32 = 1
        /// Outgoing QoS 1 messages in flight at once (0: no limit).
        public var maxInflight: UInt32 = 1000
        public var reconnectDelayMin: UInt32 = 1
        public var reconnectDelayMax: UInt32 = 30
        /// Send each packet at once (no Nagle). Publishers want it for latency; a subscriber that
        /// only sends PUBACKs can let the kernel coalesce them, which saves a loopback round of
        /// TCP work per message (the broker's in-flight window keeps delivery flowing meanwhile).
        public var tcpNoDelay = true
        /// Last will: topic, payload, retained — published by the broker if we vanish.
        public var will: (topic: String, payload: String, retain: Bool)?

        public init(clientID: String) { self.clientID = clientID }
    }

    public let options: Options
    private let handle: OpaquePointer
    private let onMessage: @Sendable (MQTTMessage) -> Void
    private let onConnection: @Sendable (MQTTConnectionEvent) -> Void
    private let onPublished: @Sendable (Int32) -> Void
    private var loopRunning = false

    private static let libraryReady: Void = { mosquitto_lib_init() }()

    public init(options: Options,
                onMessage: @escaping @Sendable (MQTTMessage) -> Void = { _ in },
                onConnection: @escaping @Sendable (MQTTConnectionEvent) -> Void = { _ in },
                onPublished: @escaping @Sendable (Int32) -> Void = { _ in }) throws {
        _ = Self.libraryReady
        self.options = options
        self.onMessage = onMessage
        self.onConnection = onConnection
        self.onPublished = onPublished
        guard let h = mosquitto_new(options.clientID, options.cleanSession, nil) else {
            throw MQTTError("create", MOSQ_ERR_NOMEM.rawValue)
        }
        handle = h
        mosquitto_user_data_set(h, Unmanaged.passUnretained(self).toOpaque())
        mosquitto_connect_callback_set(h, mqttOnConnect)
        mosquitto_disconnect_callback_set(h, mqttOnDisconnect)
        mosquitto_message_callback_set(h, mqttOnMessage)
        mosquitto_publish_callback_set(h, mqttOnPublish)
        mosquitto_max_inflight_messages_set(h, options.maxInflight)
        mosquitto_reconnect_delay_set(h, options.reconnectDelayMin, options.reconnectDelayMax, true)
        _ = mosquitto_int_option(h, MOSQ_OPT_TCP_NODELAY, options.tcpNoDelay ? 1 : 0)
        if let user = options.username {
            try check("credentials", mosquitto_username_pw_set(h, user, options.password))
        }
        if let will = options.will {
            try check("will", mosquitto_will_set(h, will.topic, Int32(will.payload.utf8.count), will.payload,
                                                 1, will.retain))
        }
    }

    deinit {
        if loopRunning { mosquitto_disconnect(handle); mosquitto_loop_stop(handle, true) }
        mosquitto_destroy(handle)
    }

    /// Connects and starts the network thread. A broker that is down at start is retried in the
    /// background with backoff; `connect` throws only for errors a retry cannot fix.
    public func start() throws {
        let rc = mosquitto_connect_async(handle, options.host, options.port, options.keepAliveSeconds)
        if rc != MOSQ_ERR_SUCCESS.rawValue && rc != MOSQ_ERR_ERRNO.rawValue {
            throw MQTTError("connect to \(options.host):\(options.port)", rc)
        }
        let failure = rc == MOSQ_ERR_ERRNO.rawValue ? String(cString: strerror(errno)) : nil
        try check("start loop", mosquitto_loop_start(handle))
        loopRunning = true
        if let failure { onConnection(.unreachable(reason: failure)) }
    }

    /// Disconnects cleanly (no last will) and joins the network thread. Queued outgoing messages
    /// that the broker has not acknowledged are lost from this client: call `waitForPublished` first.
    public func stop() {
        guard loopRunning else { return }
        mosquitto_disconnect(handle)
        mosquitto_loop_stop(handle, false)
        loopRunning = false
    }

    /// Publishes; returns the message id (its `onPublished` arrives when the broker has it).
    @discardableResult
    public func publish(topic: String, payload: [UInt8], qos: Int32 = 1, retain: Bool = false) throws -> Int32 {
        var mid: Int32 = 0
        let rc = payload.withUnsafeBytes { raw in
            mosquitto_publish(handle, &mid, topic, Int32(raw.count), raw.baseAddress, qos, retain)
        }
        try check("publish", rc)
        return mid
    }

    public func subscribe(_ filters: [String], qos: Int32) throws {
        for f in filters { try check("subscribe \(f)", mosquitto_subscribe(handle, nil, f, qos)) }
    }

    private func check(_ operation: String, _ rc: Int32) throws {
        if rc != MOSQ_ERR_SUCCESS.rawValue { throw MQTTError(operation, rc) }
    }

    // Called from the C trampolines below, on the network thread.
    fileprivate func handleConnect(_ rc: Int32, sessionPresent: Bool) {
        guard rc == 0 else {
            onConnection(.refused(code: rc, reason: String(cString: mosquitto_connack_string(rc))))
            return
        }
        // Re-subscribing is harmless with a persistent session and needed with a new one.
        if !options.subscriptions.isEmpty {
            try? subscribe(options.subscriptions, qos: options.subscriptionQoS)
        }
        onConnection(.connected(sessionPresent: sessionPresent))
    }

    fileprivate func handleDisconnect(_ rc: Int32) {
        onConnection(.disconnected(code: rc, reason: rc == 0 ? "requested" : String(cString: mosquitto_strerror(rc))))
    }

    fileprivate func handleMessage(_ m: UnsafePointer<mosquitto_message>) {
        let msg = m.pointee
        let payload = msg.payloadlen > 0 ? Data(bytes: msg.payload, count: Int(msg.payloadlen)) : Data()
        onMessage(MQTTMessage(topic: String(cString: msg.topic), payload: payload, qos: msg.qos, retained: msg.retain))
    }

    fileprivate func handlePublished(_ mid: Int32) { onPublished(mid) }
}

// The C callbacks: recover the owner from the user-data pointer set in `init`.
private func owner(_ obj: UnsafeMutableRawPointer?) -> MQTTClient {
    Unmanaged<MQTTClient>.fromOpaque(obj!).takeUnretainedValue()
}

private func mqttOnConnect(_ mosq: OpaquePointer?, _ obj: UnsafeMutableRawPointer?, _ rc: Int32) {
    // libmosquitto 2.0's v3 connect callback carries no session-present flag; report false.
    owner(obj).handleConnect(rc, sessionPresent: false)
}

private func mqttOnDisconnect(_ mosq: OpaquePointer?, _ obj: UnsafeMutableRawPointer?, _ rc: Int32) {
    owner(obj).handleDisconnect(rc)
}

private func mqttOnMessage(_ mosq: OpaquePointer?, _ obj: UnsafeMutableRawPointer?,
                           _ message: UnsafePointer<mosquitto_message>?) {
    guard let message else { return }
    owner(obj).handleMessage(message)
}

private func mqttOnPublish(_ mosq: OpaquePointer?, _ obj: UnsafeMutableRawPointer?, _ mid: Int32) {
    owner(obj).handlePublished(mid)
}
