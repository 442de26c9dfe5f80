import WardlineConfig
import WardlineCore
import WardlineIngest

extension WardlineService {
    /// `--role engine`'s intake: the partitions this node holds, read into the pipeline.
    func makePartitionIntake(pipeline: PipelineConsumer, commands: EngineCommandQueue, keeper: CheckpointKeeper,
                             ring: RingBuffer<IngestItem>) throws -> PartitionIntake {
        let c = configuration
        guard let brokers = c.kafkaBrokers else { throw ConfigurationError(description: "--role engine needs WARDLINE_KAFKA_BROKERS") }
        return PartitionIntake(
            settings: .init(brokers: brokers, topic: c.kafkaDeviceTopic, partitions: c.kafkaDevicePartitions, node: c.mqttClientID,
                            databaseURL: c.databaseURL),
            pipeline: pipeline, commands: commands, keeper: keeper, ringCount: { [ring] in ring.count }, counters: counters,
            health: health, logger: logger)
    }
}
