/// What one `wardline serve` process does (`WARDLINE_ROLE`, `serve --role`).
public enum NodeRole: String, Sendable, CaseIterable {
    /// The whole pipeline in one process, through the ring buffer: one machine.
    case all
    /// MQTT → journal → the device-message topic; the checkpoint moves once Kafka has each message.
    case ingest
    /// Owns partitions of the device-message topic: engine, writers, outboxes, scored readings.
    case engine
    /// Ward page, REST and sockets from the alarm-event and scored-readings topics.
    case hub
}

extension WardlineConfiguration {
    /// The scored-readings topic in a split deployment: the configured one, else `wardline.readings`.
    public var scoredReadingsTopic: String { kafkaReadingsTopic ?? "wardline.readings" }

    /// Sets the role (from `serve --role`) and checks what it needs.
    public mutating func take(role: NodeRole) throws {
        self.role = role
        try checkRole()
    }

    func checkRole() throws {
        guard role != .all else { return }
        guard kafkaBrokers != nil else {
            throw ConfigurationError(description: "WARDLINE_ROLE=\(role.rawValue) needs Kafka: WARDLINE_KAFKA_BROKERS is empty")
        }
        // The ingest node keys by the assignment alone; a reading that names its own patient would
        // land on its device's partition while that patient's state lives on another.
        guard role == .hub || payloadPatientID != .unassigned else {
            throw ConfigurationError(description: "WARDLINE_ROLE=\(role.rawValue) needs WARDLINE_PAYLOAD_PATIENT_ID=refuse: past one machine only a device assignment makes a reading a patient's")
        }
        guard !kafkaDeviceTopic.isEmpty else {
            throw ConfigurationError(description: "WARDLINE_ROLE=\(role.rawValue) needs WARDLINE_KAFKA_DEVICE_TOPIC")
        }
    }
}
