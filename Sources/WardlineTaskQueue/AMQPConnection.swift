import CRabbitMQ
import Foundation
import WardlineTasks

/// Why a broker call failed, with the broker's own words when it sent any.
public struct AMQPError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        /// No TCP connection (refused, no route, timeout).
        case unreachable
        /// Wrong user name or password (ACCESS_REFUSED at login).
        case accessRefused
        /// The user may not use the vhost, or it does not exist (NOT_ALLOWED).
        case vhostRefused
        /// The broker said no to one publish (nack), or could route it nowhere.
        case notAccepted
        /// The connection or channel is gone; make a new connection.
        case closed
        case timeout
    }

    public let kind: Kind
    public let message: String
    public var description: String { message }
}

/// Message properties Wardline uses: every message is persistent JSON.
public struct AMQPMessage: Sendable {
    public var exchange: String
    public var routingKey: String
    public var body: [UInt8]
    public var priority: UInt8?
    /// Per-message TTL: after this long in a queue it is dead-lettered (the delay mechanism).
    public var expirationMillis: Int?
    public var messageID: String?
    public var headers: [String: AMQPArgument]

    public init(exchange: String, routingKey: String, body: [UInt8], priority: UInt8? = nil, expirationMillis: Int? = nil,
                messageID: String? = nil, headers: [String: AMQPArgument] = [:]) {
        self.exchange = exchange
        self.routingKey = routingKey
        self.body = body
        self.priority = priority
        self.expirationMillis = expirationMillis
        self.messageID = messageID
        self.headers = headers
    }
}

/// One message handed to a consumer (or fetched with `get`); ack or reject it by `deliveryTag`.
public struct AMQPDelivery: Sendable {
    public var deliveryTag: UInt64
    public var exchange: String
    public var routingKey: String
    public var redelivered: Bool
    public var body: [UInt8]
    public var priority: UInt8?
    public var messageID: String?
    public var headers: [String: AMQPArgument]
}

/// The one owner of a rabbitmq-c connection (`amqp_connection_state_t`), with one channel.
///
/// Not thread-safe: one thread uses it. Any error leaves it unusable (a closed channel is not
/// reopened here); the owner drops it and connects again. deinit closes and frees the handle.
public final class AMQPConnection {
    public let endpoint: AMQPEndpoint
    private let conn: amqp_connection_state_t
    private let channel: amqp_channel_t = 1
    private let timeoutMillis: Int
    private var loggedIn = false
    private var confirming = false
    private var publishedCount: UInt64 = 0
    private let heartbeatMillis: Int64
    private var lastKeepAlive: Int64 = 0

    /// Connects and logs in; fails with `.unreachable`, `.accessRefused` or `.vhostRefused` and a
    /// message naming the user and broker.
    public init(endpoint: AMQPEndpoint, heartbeatSeconds: Int32 = 30, timeoutMillis: Int = 5000) throws {
        self.endpoint = endpoint
        self.timeoutMillis = timeoutMillis
        self.heartbeatMillis = Int64(heartbeatSeconds) * 1000
        guard let c = amqp_new_connection() else { throw AMQPError(kind: .closed, message: "rabbitmq-c: out of memory") }
        conn = c
        let at = "\(endpoint.host):\(endpoint.port)"
        guard let socket = amqp_tcp_socket_new(c) else { throw AMQPError(kind: .closed, message: "rabbitmq-c: no socket") }
        var tv = Self.timeval(timeoutMillis)
        let opened = amqp_socket_open_noblock(socket, endpoint.host, Int32(endpoint.port), &tv)
        guard opened == AMQP_STATUS_OK.rawValue else {
            // rabbitmq-c's non-blocking connect keeps no errno worth reporting: say what it means.
            throw AMQPError(kind: .unreachable, message: "broker unreachable at \(at): nothing accepted the connection within \(timeoutMillis) ms (\(Self.statusText(opened)))")
        }
        _ = amqp_set_handshake_timeout(c, &tv)
        _ = amqp_set_rpc_timeout(c, &tv)
        let login = wardline_amqp_login_plain(c, endpoint.vhost, 131_072, heartbeatSeconds, endpoint.user, endpoint.password)
        if login.reply_type != AMQP_RESPONSE_NORMAL {
            let (code, text) = Self.explain(login)
            switch code {
            case 403:
                throw AMQPError(kind: .accessRefused, message: "ACCESS_REFUSED: wrong credentials for user \(endpoint.user) at \(at) (\(text))")
            case 530:
                throw AMQPError(kind: .vhostRefused, message: "NOT_ALLOWED: user \(endpoint.user) may not use vhost \(endpoint.vhost) at \(at) (\(text))")
            default:
                // RabbitMQ closes the socket without a reason when a login fails on older clients.
                throw AMQPError(kind: code == nil ? .accessRefused : .closed,
                                message: "login as \(endpoint.user) at \(at) failed: \(text)")
            }
        }
        loggedIn = true
        _ = amqp_channel_open(c, channel)
        try check("channel.open")
    }

    deinit {
        if loggedIn {
            _ = amqp_channel_close(conn, channel, Int32(AMQP_REPLY_SUCCESS))
            _ = amqp_connection_close(conn, Int32(AMQP_REPLY_SUCCESS))
        }
        amqp_destroy_connection(conn)
    }

    /// rabbitmq-c sends heartbeats only inside its own calls, so a connection with nothing to do
    /// (a publisher between alarms) goes silent and the broker closes it after two missed beats;
    /// the first page after a quiet minute then fails and waits for a reconnect. Call this from the
    /// idle loop: it sends a heartbeat frame at most every half heartbeat interval.
    public func keepAlive(now: Int64) throws {
        guard heartbeatMillis > 0, now - lastKeepAlive >= heartbeatMillis / 2 else { return }
        lastKeepAlive = now
        var frame = amqp_frame_t()
        frame.frame_type = UInt8(AMQP_FRAME_HEARTBEAT)
        frame.channel = 0
        let rc = amqp_send_frame(conn, &frame)
        guard rc == AMQP_STATUS_OK.rawValue else {
            throw AMQPError(kind: .closed, message: "heartbeat to \(endpoint.host):\(endpoint.port) failed: \(Self.statusText(rc))")
        }
    }

    // MARK: Topology

    public func declareExchange(_ name: String, type: String) throws {
        let a = Arena()
        _ = amqp_exchange_declare(conn, channel, a.bytes(name), a.bytes(type), 0, 1, 0, 0, amqp_empty_table)
        try check("exchange.declare \(name)")
    }

    public func declareQueue(_ name: String, arguments: [String: AMQPArgument]) throws {
        let a = Arena()
        _ = amqp_queue_declare(conn, channel, a.bytes(name), 0, 1, 0, 0, a.table(arguments))
        try check("queue.declare \(name)")
    }

    /// Messages ready in `queue` and its consumers (a passive declare: it must exist).
    public func depth(of queue: String) throws -> (messages: Int, consumers: Int) {
        let a = Arena()
        guard let ok = amqp_queue_declare(conn, channel, a.bytes(queue), 1, 0, 0, 0, amqp_empty_table) else {
            try check("queue.declare passive \(queue)")
            throw AMQPError(kind: .closed, message: "queue.declare passive \(queue): no answer")
        }
        return (Int(ok.pointee.message_count), Int(ok.pointee.consumer_count))
    }

    public func bind(queue: String, exchange: String, key: String) throws {
        let a = Arena()
        _ = amqp_queue_bind(conn, channel, a.bytes(queue), a.bytes(exchange), a.bytes(key), amqp_empty_table)
        try check("queue.bind \(queue) \(exchange) \(key)")
    }

    // MARK: Publishing

    /// Turns on publisher confirms: from now on `publish` returns only once the broker has the
    /// message (written to disk, for a persistent message in a durable queue).
    public func enableConfirms() throws {
        _ = amqp_confirm_select(conn, channel)
        try check("confirm.select")
        confirming = true
    }

    /// Publishes one persistent message (mandatory: a message no queue takes is an error, not a
    /// silent loss) and, with confirms on, waits for the broker's ack.
    public func publish(_ m: AMQPMessage) throws {
        let a = Arena()
        var props = amqp_basic_properties_t()
        props._flags = Flag.contentType | Flag.deliveryMode | Flag.timestamp
        props.content_type = a.bytes("application/json")
        props.delivery_mode = 2  // persistent
        props.timestamp = UInt64(Date().timeIntervalSince1970)
        if let p = m.priority { props._flags |= Flag.priority; props.priority = p }
        if let e = m.expirationMillis { props._flags |= Flag.expiration; props.expiration = a.bytes(String(max(0, e))) }
        if let id = m.messageID { props._flags |= Flag.messageID; props.message_id = a.bytes(id) }
        if !m.headers.isEmpty { props._flags |= Flag.headers; props.headers = a.table(m.headers) }
        let status = amqp_basic_publish(conn, channel, a.bytes(m.exchange), a.bytes(m.routingKey), 1, 0, &props, a.bytes(m.body))
        guard status == AMQP_STATUS_OK.rawValue else {
            throw AMQPError(kind: .closed, message: "publish to \(m.exchange)/\(m.routingKey) failed: \(Self.statusText(status))")
        }
        publishedCount += 1
        if confirming { try awaitConfirm(for: publishedCount, what: "\(m.exchange)/\(m.routingKey)") }
    }

    private func awaitConfirm(for tag: UInt64, what: String) throws {
        var returned: String?
        let deadline = Date().addingTimeInterval(Double(timeoutMillis) / 1000)
        while true {
            var frame = amqp_frame_t()
            var tv = Self.timeval(max(1, Int(deadline.timeIntervalSinceNow * 1000)))
            let st = amqp_simple_wait_frame_noblock(conn, &frame, &tv)
            if st == AMQP_STATUS_TIMEOUT.rawValue { throw AMQPError(kind: .timeout, message: "no publisher confirm for \(what) within \(timeoutMillis) ms") }
            guard st == AMQP_STATUS_OK.rawValue else { throw AMQPError(kind: .closed, message: "connection lost waiting for a confirm: \(Self.statusText(st))") }
            guard frame.frame_type == UInt8(AMQP_FRAME_METHOD) else { continue }
            let decoded = frame.payload.method.decoded
            switch frame.payload.method.id {
            case Method.basicAck:
                let ack = decoded!.assumingMemoryBound(to: amqp_basic_ack_t.self).pointee
                // One publish in flight at a time: an ack at or past our tag (single or multiple) is ours.
                guard ack.delivery_tag >= tag else { continue }
                if let returned { throw AMQPError(kind: .notAccepted, message: "\(what) was routed to no queue: \(returned)") }
                return
            case Method.basicNack:
                throw AMQPError(kind: .notAccepted, message: "the broker refused \(what) (basic.nack)")
            case Method.basicReturn:
                let r = decoded!.assumingMemoryBound(to: amqp_basic_return_t.self).pointee
                returned = "\(r.reply_code) \(Self.string(r.reply_text))"
                var message = amqp_message_t()
                _ = amqp_read_message(conn, frame.channel, &message, 0)
                amqp_destroy_message(&message)
            case Method.channelClose, Method.connectionClose:
                throw AMQPError(kind: .closed, message: "broker closed the channel: \(Self.closeText(frame.payload.method))")
            default:
                continue
            }
        }
    }

    // MARK: Consuming

    /// At most `count` unacknowledged deliveries in flight to this consumer.
    public func setPrefetch(_ count: UInt16) throws {
        _ = amqp_basic_qos(conn, channel, 0, count, 0)
        try check("basic.qos")
    }

    /// Starts delivering `queue` to this connection, with manual acks.
    public func consume(_ queue: String) throws {
        let a = Arena()
        _ = amqp_basic_consume(conn, channel, a.bytes(queue), amqp_empty_bytes, 0, 0, 0, amqp_empty_table)
        try check("basic.consume \(queue)")
    }

    /// The next delivery, or nil when none came within the timeout.
    public func next(timeoutMillis: Int) throws -> AMQPDelivery? {
        amqp_maybe_release_buffers(conn)
        var envelope = amqp_envelope_t()
        var tv = Self.timeval(timeoutMillis)
        let r = amqp_consume_message(conn, &envelope, &tv, 0)
        if r.reply_type == AMQP_RESPONSE_NORMAL {
            defer { amqp_destroy_envelope(&envelope) }
            return Self.delivery(tag: envelope.delivery_tag, exchange: envelope.exchange, routingKey: envelope.routing_key,
                                 redelivered: envelope.redelivered != 0, message: envelope.message)
        }
        if r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT.rawValue { return nil }
        if r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_UNEXPECTED_STATE.rawValue {
            // Something other than a delivery arrived: a close is the only one that matters.
            var frame = amqp_frame_t()
            var tv0 = Self.timeval(timeoutMillis)
            guard amqp_simple_wait_frame_noblock(conn, &frame, &tv0) == AMQP_STATUS_OK.rawValue else {
                throw AMQPError(kind: .closed, message: "connection lost")
            }
            if frame.frame_type == UInt8(AMQP_FRAME_METHOD),
               [Method.channelClose, Method.connectionClose].contains(frame.payload.method.id) {
                throw AMQPError(kind: .closed, message: "broker closed the channel: \(Self.closeText(frame.payload.method))")
            }
            return nil
        }
        throw AMQPError(kind: .closed, message: "consume failed: \(Self.explain(r).1)")
    }

    /// Takes one message from `queue` without a consumer (nil when empty). Unacknowledged, it goes
    /// back to the queue when this connection closes: a way to look without taking.
    public func get(_ queue: String) throws -> AMQPDelivery? {
        let a = Arena()
        let r = amqp_basic_get(conn, channel, a.bytes(queue), 0)
        guard r.reply_type == AMQP_RESPONSE_NORMAL else { throw AMQPError(kind: .closed, message: "basic.get \(queue): \(Self.explain(r).1)") }
        guard r.reply.id == Method.basicGetOk else { return nil }
        let ok = r.reply.decoded!.assumingMemoryBound(to: amqp_basic_get_ok_t.self).pointee
        var message = amqp_message_t()
        let read = amqp_read_message(conn, channel, &message, 0)
        guard read.reply_type == AMQP_RESPONSE_NORMAL else { throw AMQPError(kind: .closed, message: "basic.get \(queue): reading the message failed") }
        defer { amqp_destroy_message(&message) }
        return Self.delivery(tag: ok.delivery_tag, exchange: ok.exchange, routingKey: ok.routing_key,
                             redelivered: ok.redelivered != 0, message: message)
    }

    public func ack(_ deliveryTag: UInt64) throws {
        let st = amqp_basic_ack(conn, channel, deliveryTag, 0)
        guard st == AMQP_STATUS_OK.rawValue else { throw AMQPError(kind: .closed, message: "basic.ack failed: \(Self.statusText(st))") }
    }

    /// Rejects without requeueing: the queue dead-letters it (into `wardline.dead` for work queues).
    public func reject(_ deliveryTag: UInt64) throws {
        let st = amqp_basic_reject(conn, channel, deliveryTag, 0)
        guard st == AMQP_STATUS_OK.rawValue else { throw AMQPError(kind: .closed, message: "basic.reject failed: \(Self.statusText(st))") }
    }

    // MARK: Helpers

    private func check(_ what: String) throws {
        let r = amqp_get_rpc_reply(conn)
        guard r.reply_type == AMQP_RESPONSE_NORMAL else {
            throw AMQPError(kind: .closed, message: "\(what) failed: \(Self.explain(r).1)")
        }
    }

    /// The AMQP reply code (403, 404, 530, …) when the broker closed with one, and readable text.
    private static func explain(_ r: amqp_rpc_reply_t) -> (Int?, String) {
        switch r.reply_type {
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            switch r.reply.id {
            case Method.connectionClose:
                let c = r.reply.decoded!.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
                return (Int(c.reply_code), string(c.reply_text))
            case Method.channelClose:
                let c = r.reply.decoded!.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
                return (Int(c.reply_code), string(c.reply_text))
            default: return (nil, "unexpected method \(r.reply.id)")
            }
        case AMQP_RESPONSE_LIBRARY_EXCEPTION: return (nil, statusText(r.library_error))
        case AMQP_RESPONSE_NONE: return (nil, "no reply (connection closed?)")
        default: return (nil, "ok")
        }
    }

    private static func closeText(_ m: amqp_method_t) -> String {
        var r = amqp_rpc_reply_t()
        r.reply_type = AMQP_RESPONSE_SERVER_EXCEPTION
        r.reply = m
        return explain(r).1
    }

    private static func statusText(_ status: Int32) -> String { String(cString: amqp_error_string2(status)) }

    private static func string(_ b: amqp_bytes_t) -> String {
        guard let p = b.bytes, b.len > 0 else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: p, count: b.len), as: UTF8.self)
    }

    private static func bytes(_ b: amqp_bytes_t) -> [UInt8] {
        guard let p = b.bytes, b.len > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: p, count: b.len))
    }

    private static func timeval(_ millis: Int) -> Glibc.timeval {
        Glibc.timeval(tv_sec: millis / 1000, tv_usec: (millis % 1000) * 1000)
    }

    private static func delivery(tag: UInt64, exchange: amqp_bytes_t, routingKey: amqp_bytes_t, redelivered: Bool,
                                 message: amqp_message_t) -> AMQPDelivery {
        let p = message.properties
        return AMQPDelivery(deliveryTag: tag, exchange: string(exchange), routingKey: string(routingKey), redelivered: redelivered,
                            body: bytes(message.body),
                            priority: p._flags & Flag.priority != 0 ? p.priority : nil,
                            messageID: p._flags & Flag.messageID != 0 ? string(p.message_id) : nil,
                            headers: p._flags & Flag.headers != 0 ? headers(p.headers) : [:])
    }

    /// String and integer entries of a header table (others, such as x-death's arrays, are skipped).
    private static func headers(_ t: amqp_table_t) -> [String: AMQPArgument] {
        var out: [String: AMQPArgument] = [:]
        guard let entries = t.entries else { return out }
        for i in 0..<Int(t.num_entries) {
            let e = entries[i]
            let key = string(e.key)
            switch UInt32(e.value.kind) {
            case AMQP_FIELD_KIND_UTF8.rawValue, AMQP_FIELD_KIND_BYTES.rawValue: out[key] = .string(string(e.value.value.bytes))
            case AMQP_FIELD_KIND_I64.rawValue: out[key] = .int(e.value.value.i64)
            case AMQP_FIELD_KIND_I32.rawValue: out[key] = .int(Int64(e.value.value.i32))
            case AMQP_FIELD_KIND_I16.rawValue: out[key] = .int(Int64(e.value.value.i16))
            case AMQP_FIELD_KIND_I8.rawValue: out[key] = .int(Int64(e.value.value.i8))
            case AMQP_FIELD_KIND_U8.rawValue: out[key] = .int(Int64(e.value.value.u8))
            default: continue
            }
        }
        return out
    }
}

// rabbitmq-c's method ids and property flags are macros with casts, which Swift does not import.
private enum Method {
    static let connectionClose: amqp_method_number_t = 0x000A_0032
    static let channelClose: amqp_method_number_t = 0x0014_0028
    static let basicReturn: amqp_method_number_t = 0x003C_0032
    static let basicGetOk: amqp_method_number_t = 0x003C_0047
    static let basicAck: amqp_method_number_t = 0x003C_0050
    static let basicNack: amqp_method_number_t = 0x003C_0078
}

private enum Flag {
    static let contentType: amqp_flags_t = 1 << 15
    static let headers: amqp_flags_t = 1 << 13
    static let deliveryMode: amqp_flags_t = 1 << 12
    static let priority: amqp_flags_t = 1 << 11
    static let expiration: amqp_flags_t = 1 << 8
    static let messageID: amqp_flags_t = 1 << 7
    static let timestamp: amqp_flags_t = 1 << 6
}

/// C memory for one call's arguments (strings, bodies, header tables), freed when the call is over.
private final class Arena {
    private var blocks: [UnsafeMutableRawPointer] = []

    deinit { blocks.forEach { free($0) } }

    func bytes(_ s: String) -> amqp_bytes_t { bytes(Array(s.utf8)) }

    func bytes(_ b: [UInt8]) -> amqp_bytes_t {
        let p = malloc(max(1, b.count))!
        blocks.append(p)
        b.withUnsafeBytes { if let base = $0.baseAddress { p.copyMemory(from: base, byteCount: b.count) } }
        return amqp_bytes_t(len: b.count, bytes: p)
    }

    func table(_ values: [String: AMQPArgument]) -> amqp_table_t {
        guard !values.isEmpty else { return amqp_empty_table }
        let entries = malloc(MemoryLayout<amqp_table_entry_t>.stride * values.count)!
        blocks.append(entries)
        let typed = entries.bindMemory(to: amqp_table_entry_t.self, capacity: values.count)
        for (i, (key, value)) in values.sorted(by: { $0.key < $1.key }).enumerated() {
            var field = amqp_field_value_t()
            switch value {
            case .string(let s):
                field.kind = UInt8(AMQP_FIELD_KIND_UTF8.rawValue)
                field.value.bytes = bytes(s)
            case .int(let n):
                field.kind = UInt8(AMQP_FIELD_KIND_I64.rawValue)
                field.value.i64 = n
            }
            (typed + i).initialize(to: amqp_table_entry_t(key: bytes(key), value: field))
        }
        return amqp_table_t(num_entries: Int32(values.count), entries: typed)
    }
}
