import CRdkafka
import Foundation
import Synchronization

public struct KafkaError: Error, CustomStringConvertible {
    public let operation: String
    public let message: String
    public var description: String { "kafka \(operation) failed: \(message)" }

    /// librdkafka's error buffer (NUL-terminated) as text.
    static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// The outcome of one message: delivered (error nil) or given up by librdkafka (error set).
public struct KafkaDelivery: Sendable {
    public let id: UInt64
    public let error: String?
}

/// The one owner of a librdkafka producer (`rd_kafka_t *`): idempotent (`enable.idempotence`,
/// `acks=all`), keyed messages, a delivery report for every message.
///
/// `send` is safe from any thread and never blocks (librdkafka queues and retries by itself).
/// Delivery reports come from a dedicated poll thread, never Swift's cooperative pool.
public final class KafkaProducer: @unchecked Sendable {
    private let handle: OpaquePointer
    private let reports: DeliveryReports
    private let topics = Mutex<[String: OpaquePointer]>([:])
    private let poller: PollLoop

    public init(brokers: String, clientID: String = "wardline", messageTimeoutMillis: Int = 30_000,
                onDelivery: @escaping @Sendable (KafkaDelivery) -> Void) throws {
        reports = DeliveryReports(onDelivery)
        let conf = rd_kafka_conf_new()
        let settings = [
            "bootstrap.servers": brokers, "client.id": clientID, "enable.idempotence": "true", "acks": "all",
            "linger.ms": "5", "message.timeout.ms": String(messageTimeoutMillis), "socket.keepalive.enable": "true",
        ]
        var errstr = [CChar](repeating: 0, count: 512)
        for (key, value) in settings where rd_kafka_conf_set(conf, key, value, &errstr, errstr.count) != RD_KAFKA_CONF_OK {
            rd_kafka_conf_destroy(conf)
            throw KafkaError(operation: "configure \(key)", message: KafkaError.text(errstr))
        }
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(reports).toOpaque())
        rd_kafka_conf_set_dr_msg_cb(conf, kafkaDeliveryReport)
        // librdkafka would print unstructured lines to stderr; failures reach us as delivery
        // reports and through `brokerReachable`, which Wardline logs in its own format.
        rd_kafka_conf_set_log_cb(conf, nil)
        guard let rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, &errstr, errstr.count) else {
            rd_kafka_conf_destroy(conf)
            throw KafkaError(operation: "create producer", message: KafkaError.text(errstr))
        }
        handle = rk
        let loop = PollLoop(handle: rk)
        poller = loop
        let thread = Thread { loop.run() }
        thread.name = "wardline-kafka-poll"
        thread.start()
    }

    deinit {
        _ = rd_kafka_flush(handle, 5000)
        poller.stop()
        topics.withLock { for t in $0.values { rd_kafka_topic_destroy(t) } }
        rd_kafka_destroy(handle)
    }

    /// Queues one message; `id` comes back in its delivery report. `partition` nil: librdkafka's
    /// partitioner picks from the key; set: Wardline picked (`PatientPartition`).
    public func send(topic: String, partition: Int32? = nil, key: String, value: [UInt8], id: UInt64) throws {
        let rkt = try topicHandle(topic)
        var key = key
        let rc = key.withUTF8 { k in
            value.withUnsafeBytes { v in
                rd_kafka_produce(rkt, partition ?? RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, UnsafeMutableRawPointer(mutating: v.baseAddress),
                                 v.count, k.baseAddress, k.count, UnsafeMutableRawPointer(bitPattern: UInt(id)))
            }
        }
        if rc != 0 { throw KafkaError(operation: "produce to \(topic)", message: String(cString: rd_kafka_err2str(rd_kafka_last_error()))) }
    }

    /// Waits up to `timeoutMillis` for everything queued to be delivered or given up.
    public func flush(timeoutMillis: Int32) { _ = rd_kafka_flush(handle, timeoutMillis) }

    /// Whether a broker answers (metadata within the timeout): for readiness, not for sending.
    public func brokerReachable(timeoutMillis: Int32 = 2000) -> Bool {
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let err = rd_kafka_metadata(handle, 0, nil, &metadata, timeoutMillis)
        if let metadata { rd_kafka_metadata_destroy(metadata) }
        return err == RD_KAFKA_RESP_ERR_NO_ERROR
    }

    private func topicHandle(_ name: String) throws -> OpaquePointer {
        try topics.withLock { cache in
            if let t = cache[name] { return t }
            guard let t = rd_kafka_topic_new(handle, name, nil) else {
                throw KafkaError(operation: "topic \(name)", message: String(cString: rd_kafka_err2str(rd_kafka_last_error())))
            }
            cache[name] = t
            return t
        }
    }
}

/// Holds the delivery callback; librdkafka's opaque pointer points here.
final class DeliveryReports: Sendable {
    let deliver: @Sendable (KafkaDelivery) -> Void
    init(_ deliver: @escaping @Sendable (KafkaDelivery) -> Void) { self.deliver = deliver }
}

/// `rd_kafka_poll` on its own thread: it is what runs the delivery callbacks.
private final class PollLoop: @unchecked Sendable {
    let handle: OpaquePointer
    private let running = Atomic<Bool>(true)
    private let done = DispatchSemaphore(value: 0)
    init(handle: OpaquePointer) { self.handle = handle }
    func run() {
        while running.load(ordering: .relaxed) { _ = rd_kafka_poll(handle, 100) }
        done.signal()
    }
    /// Ends the loop and waits for it, so the handle outlives every callback.
    func stop() {
        running.store(false, ordering: .relaxed)
        done.wait()
    }
}

private func kafkaDeliveryReport(_ rk: OpaquePointer?, _ message: UnsafePointer<rd_kafka_message_t>?,
                                 _ opaque: UnsafeMutableRawPointer?) {
    guard let message, let opaque else { return }
    let reports = Unmanaged<DeliveryReports>.fromOpaque(opaque).takeUnretainedValue()
    let m = message.pointee
    let id = UInt64(UInt(bitPattern: m._private))
    reports.deliver(KafkaDelivery(id: id, error: m.err == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : String(cString: rd_kafka_err2str(m.err))))
}
