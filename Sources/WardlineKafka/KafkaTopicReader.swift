import CRdkafka

/// One message read back from a topic.
public struct KafkaRecord: Sendable {
    public let partition: Int32
    public let offset: Int64
    public let key: String?
    public let value: [UInt8]
    /// When the producer made it (epoch ms), if the broker kept it.
    public var timestamp: Int64? = nil
}

/// The one owner of a librdkafka consumer used to read a topic from the beginning, with partitions
/// assigned directly (no consumer group: joins are slow on the test broker, and an operator's
/// `wardline events` should not move anyone's offsets). Single-threaded.
public final class KafkaTopicReader {
    private let handle: OpaquePointer

    public init(brokers: String, topic: String, timeoutMillis: Int32 = 5000) throws {
        let conf = rd_kafka_conf_new()
        var errstr = [CChar](repeating: 0, count: 512)
        for (key, value) in ["bootstrap.servers": brokers, "group.id": "wardline-reader", "enable.auto.commit": "false",
                             "enable.partition.eof": "false"]
        where rd_kafka_conf_set(conf, key, value, &errstr, errstr.count) != RD_KAFKA_CONF_OK {
            rd_kafka_conf_destroy(conf)
            throw KafkaError(operation: "configure \(key)", message: KafkaError.text(errstr))
        }
        guard let rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, &errstr, errstr.count) else {
            rd_kafka_conf_destroy(conf)
            throw KafkaError(operation: "create consumer", message: KafkaError.text(errstr))
        }
        handle = rk
        rd_kafka_poll_set_consumer(rk)
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let rkt = rd_kafka_topic_new(rk, topic, nil)
        defer { if let rkt { rd_kafka_topic_destroy(rkt) } }
        let err = rd_kafka_metadata(rk, 0, rkt, &metadata, timeoutMillis)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let md = metadata, md.pointee.topic_cnt > 0 else {
            if let metadata { rd_kafka_metadata_destroy(metadata) }
            throw KafkaError(operation: "metadata for \(topic)", message: String(cString: rd_kafka_err2str(err)))
        }
        let partitions = md.pointee.topics[0].partition_cnt
        rd_kafka_metadata_destroy(md)
        let list = rd_kafka_topic_partition_list_new(partitions)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for p in 0..<partitions {
            rd_kafka_topic_partition_list_add(list, topic, p)?.pointee.offset = Int64(RD_KAFKA_OFFSET_BEGINNING)
        }
        let assigned = rd_kafka_assign(rk, list)
        guard assigned == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(operation: "assign \(topic)", message: String(cString: rd_kafka_err2str(assigned)))
        }
    }

    deinit {
        _ = rd_kafka_consumer_close(handle)
        rd_kafka_destroy(handle)
    }

    /// The next message, or nil when none arrives within the timeout.
    public func next(timeoutMillis: Int32) throws -> KafkaRecord? {
        guard let m = rd_kafka_consumer_poll(handle, timeoutMillis) else { return nil }
        defer { rd_kafka_message_destroy(m) }
        let msg = m.pointee
        if msg.err != RD_KAFKA_RESP_ERR_NO_ERROR {
            if msg.err == RD_KAFKA_RESP_ERR__PARTITION_EOF { return nil }
            throw KafkaError(operation: "consume", message: String(cString: rd_kafka_err2str(msg.err)))
        }
        let key = msg.key.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: msg.key_len), as: UTF8.self) }
        let value = msg.payload.map { [UInt8](UnsafeRawBufferPointer(start: $0, count: msg.len)) } ?? []
        return KafkaRecord(partition: msg.partition, offset: msg.offset, key: key, value: value)
    }
}
