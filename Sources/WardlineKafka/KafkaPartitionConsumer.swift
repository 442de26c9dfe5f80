import CRdkafka

/// Where to start reading a partition.
public enum KafkaStart: Sendable, Equatable {
    case offset(Int64)
    case beginning
    /// Only what is appended from now on (a hub's live feed).
    case end
}

/// The one owner of a librdkafka consumer whose partitions Wardline assigns itself
/// (`rd_kafka_incremental_assign`, no consumer group: engine nodes own partitions through
/// PostgreSQL advisory locks, and keep their offsets in PostgreSQL with the writes; see
/// bench/tansu-groups/FINDINGS.md for why not Tansu's groups). Offsets are never committed to
/// Kafka. Used from one thread.
public final class KafkaPartitionConsumer {
    private let handle: OpaquePointer
    public let topic: String

    public init(brokers: String, topic: String, clientID: String) throws {
        self.topic = topic
        let conf = rd_kafka_conf_new()
        var errstr = [CChar](repeating: 0, count: 512)
        for (key, value) in ["bootstrap.servers": brokers, "client.id": clientID, "group.id": "wardline-" + clientID,
                             "enable.auto.commit": "false", "enable.auto.offset.store": "false",
                             "enable.partition.eof": "false", "fetch.wait.max.ms": "20", "socket.keepalive.enable": "true",
                             // A floor past the end (the broker lost the topic, e.g. memory storage): read what it has.
                             "auto.offset.reset": "earliest"]
        where rd_kafka_conf_set(conf, key, value, &errstr, errstr.count) != RD_KAFKA_CONF_OK {
            rd_kafka_conf_destroy(conf)
            throw KafkaError(operation: "configure \(key)", message: KafkaError.text(errstr))
        }
        rd_kafka_conf_set_log_cb(conf, nil)
        guard let rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, &errstr, errstr.count) else {
            rd_kafka_conf_destroy(conf)
            throw KafkaError(operation: "create consumer", message: KafkaError.text(errstr))
        }
        handle = rk
        rd_kafka_poll_set_consumer(rk)
    }

    deinit {
        _ = rd_kafka_consumer_close(handle)
        rd_kafka_destroy(handle)
    }

    /// The topic's partition count, from the broker's metadata.
    public func partitionCount(timeoutMillis: Int32 = 5000) throws -> Int {
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let rkt = rd_kafka_topic_new(handle, topic, nil)
        defer { if let rkt { rd_kafka_topic_destroy(rkt) } }
        let err = rd_kafka_metadata(handle, 0, rkt, &metadata, timeoutMillis)
        defer { if let metadata { rd_kafka_metadata_destroy(metadata) } }
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let md = metadata, md.pointee.topic_cnt > 0 else {
            throw KafkaError(operation: "metadata for \(topic)", message: String(cString: rd_kafka_err2str(err)))
        }
        let topicError = md.pointee.topics[0].err
        guard topicError == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(operation: "metadata for \(topic)", message: String(cString: rd_kafka_err2str(topicError)))
        }
        return Int(md.pointee.topics[0].partition_cnt)
    }

    /// The partition's high watermark (the offset the next record appended will get), asked of
    /// the broker.
    public func highWatermark(partition: Int32, timeoutMillis: Int32 = 5000) throws -> Int64 {
        var low: Int64 = 0, high: Int64 = 0
        let err = rd_kafka_query_watermark_offsets(handle, topic, partition, &low, &high, timeoutMillis)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(operation: "watermarks of \(topic)[\(partition)]", message: String(cString: rd_kafka_err2str(err)))
        }
        return high
    }

    /// Starts reading these partitions (adding to those already read).
    public func assign(_ partitions: [(partition: Int32, start: KafkaStart)]) throws {
        try change(partitions.map { ($0.partition, $0.start) }, add: true)
    }

    /// Stops reading these partitions; messages already fetched for them may still come out of
    /// `next` once (the caller drops records of partitions it no longer holds).
    public func unassign(_ partitions: [Int32]) throws {
        try change(partitions.map { ($0, .beginning) }, add: false)
    }

    private func change(_ partitions: [(Int32, KafkaStart)], add: Bool) throws {
        guard !partitions.isEmpty else { return }
        let list = rd_kafka_topic_partition_list_new(Int32(partitions.count))
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for (p, start) in partitions {
            let offset: Int64 = switch start {
            case .offset(let o): o
            case .beginning: Int64(RD_KAFKA_OFFSET_BEGINNING)
            case .end: Int64(RD_KAFKA_OFFSET_END)
            }
            rd_kafka_topic_partition_list_add(list, topic, p)?.pointee.offset = offset
        }
        let error = add ? rd_kafka_incremental_assign(handle, list) : rd_kafka_incremental_unassign(handle, list)
        if let error {
            let message = String(cString: rd_kafka_error_string(error))
            rd_kafka_error_destroy(error)
            throw KafkaError(operation: add ? "assign \(topic)" : "unassign \(topic)", message: message)
        }
    }

    /// The next message, or nil when none arrives within the timeout. A broker error that
    /// librdkafka recovers from by itself (a restart) is thrown for the caller to log.
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
        let time = rd_kafka_message_timestamp(m, nil)
        return KafkaRecord(partition: msg.partition, offset: msg.offset, key: key, value: value, timestamp: time >= 0 ? time : nil)
    }
}
