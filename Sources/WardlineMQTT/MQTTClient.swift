import CMosquitto
import Foundation
import Synchronization

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
///
/// libmosquitto queues a QoS 1 message's PUBACK *before* calling `onMessage` and writes it only
/// after `onMessage` returns, from the network thread. `pause` uses that to stop intake without
/// acknowledging what Wardline could not keep (`MessageDisposition`).
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
        /// Backoff between reconnect attempts doubles up to this: 5 s, so a broker back after a
        /// restart has Wardline (one client, not a fleet) reading again within seconds, not half a minute.
        public var reconnectDelayMax: UInt32 = 5
        /// Send each packet at once (no Nagle). Publishers want it for latency; a subscriber that
        /// only sends PUBACKs can let the kernel coalesce them, which saves a loopback round of
        /// TCP work per message (the broker's in-flight window keeps delivery flowing meanwhile).
        public var tcpNoDelay = true
        /// Last will: topic, payload, retained — published by the broker if we vanish.
        public var will: (topic: String, payload: String, retain: Bool)?
        /// TLS to the broker (nil: plain TCP). The broker's certificate is always verified,
        /// host name included; there is no switch to skip that.
        public var tls: TLS?

        public init(clientID: String) { self.clientID = clientID }
    }

    public struct TLS: Sendable {
        /// PEM file of the CA(s) that signed the broker's certificate; nil: the system's trust store.
        public var caFile: String?
        /// A client certificate and its key, for a listener that requires one (mTLS).
        public var certFile: String?
        public var keyFile: String?
        public init(caFile: String? = nil, certFile: String? = nil, keyFile: String? = nil) {
            self.caFile = caFile
            self.certFile = certFile
            self.keyFile = keyFile
        }
        static let systemTrustStore = "/etc/ssl/certs"
    }

    /// What `onMessage` did with a message, which decides whether the broker hears it was delivered.
    public enum MessageDisposition: Sendable, Equatable {
        /// Kept: acknowledge it and carry on.
        case kept
        /// Kept, but take no more for now: acknowledge it, then disconnect (see `resume`).
        case keptPausing
        /// Not kept: never acknowledge it; disconnect at once. The broker delivers it again.
        case refusedPausing
    }

    public let options: Options
    private let handle: OpaquePointer
    private let onMessage: @Sendable (MQTTMessage) -> MessageDisposition
    private let onConnection: @Sendable (MQTTConnectionEvent) -> Void
    private let onPublished: @Sendable (Int32) -> Void
    private enum Lifecycle { case idle, running, stopped }
    /// Start, resume and stop, one at a time (never taken on the network thread: `stop` holds it
    /// while it joins that thread).
    private let lifecycle = Mutex<Lifecycle>(.idle)
    /// Set by `pause` on the network thread; the thread ends soon after, and `resume` joins it.
    private let pauseRequested = Atomic<Bool>(false)

    private static let libraryReady: Void = { mosquitto_lib_init() }()

    public init(options: Options,
                onMessage: @escaping @Sendable (MQTTMessage) -> MessageDisposition = { _ in .kept },
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
        mosquitto_subscribe_callback_set(h, mqttOnSubscribe)
        mosquitto_max_inflight_messages_set(h, options.maxInflight)
        mosquitto_reconnect_delay_set(h, options.reconnectDelayMin, options.reconnectDelayMax, true)
        _ = mosquitto_int_option(h, MOSQ_OPT_TCP_NODELAY, options.tcpNoDelay ? 1 : 0)
        if let tls = options.tls {
            try check("tls", mosquitto_tls_set(h, tls.caFile, tls.caFile == nil ? TLS.systemTrustStore : nil,
                                               tls.certFile, tls.keyFile, nil))
        }
        if let user = options.username {
            try check("credentials", mosquitto_username_pw_set(h, user, options.password))
        }
        if let will = options.will {
            try check("will", mosquitto_will_set(h, will.topic, Int32(will.payload.utf8.count), will.payload,
                                                 1, will.retain))
        }
    }

    deinit {
        // Joined, not cancelled (see `superviseNetworkThread`).
        if lifecycle.withLock({ $0 }) == .running { mosquitto_disconnect(handle); mosquitto_loop_stop(handle, false) }
        mosquitto_destroy(handle)
    }

    /// Connects and starts the network thread. A broker that is down at start is retried in the
    /// background with backoff; `connect` throws only for errors a retry cannot fix.
    public func start() throws {
        try lifecycle.withLock { state in
            guard state == .idle else { return }
            disconnectedSince.store(Int64(Date().timeIntervalSince1970 * 1000), ordering: .releasing)
            try connect(mosquitto_connect_async(handle, options.host, options.port, options.keepAliveSeconds))
            state = .running
        }
        superviseNetworkThread()
    }

    private func connect(_ rc: Int32) throws {
        if rc != MOSQ_ERR_SUCCESS.rawValue && rc != MOSQ_ERR_ERRNO.rawValue {
            throw MQTTError("connect to \(options.host):\(options.port)", rc)
        }
        let failure = rc == MOSQ_ERR_ERRNO.rawValue ? String(cString: strerror(errno)) : nil
        try check("start loop", mosquitto_loop_start(handle))
        if let failure { onConnection(.unreachable(reason: failure)) }
    }

    /// Stops intake on the network thread, without acknowledging what was not kept. The broker keeps
    /// the rest for this persistent session (`cleanSession` false); the network thread ends, and
    /// `resume` connects again.
    ///
    /// - `acknowledgingCurrent: true`: the message being handled was kept, so its PUBACK (queued
    ///   before `onMessage`) and the earlier ones go out, then DISCONNECT. A message read after
    ///   this queues its PUBACK behind the DISCONNECT, which closes the socket: never sent.
    /// - `false`: the socket is shut first, so nothing still queued — not even the PUBACK of the
    ///   message being handled — reaches the broker, which delivers those messages again
    ///   (duplicates of kept ones are possible, losses are not).
    private func pause(acknowledgingCurrent: Bool) {
        if !acknowledgingCurrent {
            let fd = mosquitto_socket(handle)
            if fd >= 0 { _ = shutdown(fd, Int32(SHUT_RDWR)) }
        }
        guard !pauseRequested.exchange(true, ordering: .acquiringAndReleasing) else { return }
        mosquitto_disconnect(handle)
    }

    /// Whether intake is paused (an `onMessage` answered `…Pausing`) or was never started, and
    /// `resume` would connect.
    public var isPaused: Bool {
        pauseRequested.load(ordering: .acquiring) || lifecycle.withLock { $0 } == .idle
    }

    /// After a pause, joins the ended network thread and connects again (the broker then delivers
    /// what it kept); if `start` was never called, starts. From any thread but the network thread.
    /// Returns whether it connected (false: not paused, or stopped).
    @discardableResult
    public func resume() throws -> Bool {
        try lifecycle.withLock { state in
            switch state {
            case .idle:
                disconnectedSince.store(Int64(Date().timeIntervalSince1970 * 1000), ordering: .releasing)
                try connect(mosquitto_connect_async(handle, options.host, options.port, options.keepAliveSeconds))
                state = .running
                superviseNetworkThread()
                return true
            case .running where pauseRequested.load(ordering: .acquiring):
                mosquitto_loop_stop(handle, false)
                // Cleared before the new network thread starts, which hands messages on only then;
                // set again if no thread started, so a later resume tries again.
                pauseRequested.store(false, ordering: .releasing)
                do { try connect(mosquitto_reconnect_async(handle)) } catch {
                    pauseRequested.store(true, ordering: .releasing)
                    throw error
                }
                return true
            case .running, .stopped:
                return false
            }
        }
    }

    /// Disconnects cleanly (no last will) and joins the network thread. Queued outgoing messages
    /// that the broker has not acknowledged are lost from this client: call `waitForPublished` first.
    public func stop() {
        lifecycle.withLock { state in
            if state == .running {
                mosquitto_disconnect(handle)
                mosquitto_loop_stop(handle, false)
            }
            state = .stopped
        }
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
        // Re-subscribing is harmless with a persistent session and needed with a new one. Connected
        // means subscribed: a message published before the broker has the subscription of a new
        // session is not delivered, so `.connected` waits for the SUBACKs.
        var mids = Set<Int32>()
        for filter in options.subscriptions {
            var mid: Int32 = 0
            if mosquitto_subscribe(handle, &mid, filter, options.subscriptionQoS) == MOSQ_ERR_SUCCESS.rawValue { mids.insert(mid) }
        }
        // The SUBACKs are handled on this same network thread, after this returns.
        awaitedSubacks.withLock { $0 = (mids, sessionPresent) }
        if mids.isEmpty { announceConnected(sessionPresent: sessionPresent) }
    }

    fileprivate func handleSubscribed(_ mid: Int32, granted: [Int32]) {
        if granted.contains(0x80) {
            onConnection(.refused(code: 0x80, reason: "the broker refused a subscription (not authorised for \(options.subscriptions))"))
        }
        let done: Bool? = awaitedSubacks.withLock { a in
            guard a.mids.remove(mid) != nil else { return nil }
            return a.mids.isEmpty ? a.sessionPresent : nil
        }
        if let sessionPresent = done { announceConnected(sessionPresent: sessionPresent) }
    }

    private func announceConnected(sessionPresent: Bool) {
        connected.store(true, ordering: .releasing)
        onConnection(.connected(sessionPresent: sessionPresent))
    }

    private let awaitedSubacks = Mutex<(mids: Set<Int32>, sessionPresent: Bool)>(([], false))

    fileprivate func handleDisconnect(_ rc: Int32) {
        onConnection(.disconnected(code: rc, reason: rc == 0 ? "requested" : String(cString: mosquitto_strerror(rc))))
        connected.store(false, ordering: .releasing)
        disconnectedSince.store(Int64(Date().timeIntervalSince1970 * 1000), ordering: .releasing)
    }

    private let connected = Atomic<Bool>(false)
    private let disconnectedSince = Atomic<Int64>(0)
    private let supervising = Atomic<Bool>(false)

    /// libmosquitto's network thread gives up for good on some errors (its loop_forever returns on
    /// a protocol or TLS error, as when a broker goes down mid-handshake), and then nothing
    /// reconnects: intake would end until a restart. While the client should be connected, this
    /// watches, and after `stuckMillis` without a connection it ends and joins the network thread
    /// and connects again with a new one.
    private func superviseNetworkThread(stuckMillis: Int64 = 10_000) {
        guard !supervising.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let thread = Thread { [self] in
            while true {
                Thread.sleep(forTimeInterval: 1)
                let now = Int64(Date().timeIntervalSince1970 * 1000)
                let stop: Bool = lifecycle.withLock { state in
                    if state == .stopped { return true }
                    guard state == .running, !pauseRequested.load(ordering: .acquiring),
                          !connected.load(ordering: .acquiring),
                          now - disconnectedSince.load(ordering: .acquiring) >= stuckMillis else { return false }
                    // Ended by `mosquitto_disconnect` and joined, never cancelled: a network
                    // thread cancelled (`loop_stop(force: true)`) while it held one of
                    // libmosquitto's mutexes (in its reconnect, after a run of protocol errors
                    // under load) left it locked, and this reconnect then waited on it for ever,
                    // holding `lifecycle`: no intake, and no shutdown either. A thread that has
                    // given up has returned already; one still retrying leaves its backoff sleep
                    // (at most `reconnectDelayMax`) once it sees the disconnect.
                    mosquitto_disconnect(handle)
                    mosquitto_loop_stop(handle, false)
                    disconnectedSince.store(now, ordering: .releasing)
                    try? connect(mosquitto_reconnect_async(handle))
                    return false
                }
                if stop { return }
            }
        }
        thread.name = "mqtt-supervisor"
        thread.start()
    }

    fileprivate func handleMessage(_ m: UnsafePointer<mosquitto_message>) {
        // Once paused, every PUBACK queued is behind the DISCONNECT or the socket is shut: what is
        // still read is never acknowledged, so it is not handed on; the broker delivers it again.
        guard !pauseRequested.load(ordering: .relaxed) else { return }
        let msg = m.pointee
        let payload = msg.payloadlen > 0 ? Data(bytes: msg.payload, count: Int(msg.payloadlen)) : Data()
        switch onMessage(MQTTMessage(topic: String(cString: msg.topic), payload: payload, qos: msg.qos, retained: msg.retain)) {
        case .kept: break
        case .keptPausing: pause(acknowledgingCurrent: true)
        case .refusedPausing: pause(acknowledgingCurrent: false)
        }
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

private func mqttOnSubscribe(_ mosq: OpaquePointer?, _ obj: UnsafeMutableRawPointer?, _ mid: Int32, _ count: Int32,
                             _ granted: UnsafePointer<Int32>?) {
    let qos = granted.map { Array(UnsafeBufferPointer(start: $0, count: Int(count))) } ?? []
    owner(obj).handleSubscribed(mid, granted: qos)
}
