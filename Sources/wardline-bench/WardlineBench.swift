import ArgumentParser

@main
struct WardlineBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wardline-bench",
        abstract: "Wardline's benchmarks; each reports against a baseline measured in the same run.",
        subcommands: [IngestBenchmark.self, DecodeBenchmark.self, EngineBenchmark.self, ReplayBenchmark.self, FrameBenchmark.self, CounterBenchmark.self])
}
