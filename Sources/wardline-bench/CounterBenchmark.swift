import ArgumentParser
import CoreMetrics
import Foundation
import Prometheus
import WardlineCore
import WardlineIngest
import WardlineRuntime
import WardlineServer
import WardlineWeb

/// What one count costs on the hot path (the MQTT thread and the ring consumer add to a counter for
/// every message), for the counter Wardline uses against swift-prometheus's and swift-metrics',
/// and what one `/metrics` scrape costs.
struct CounterBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "counters",
                                                    abstract: "Cost of one counter increment (Wardline's, swift-prometheus's, swift-metrics') and of one /metrics scrape.")

    @Option(help: "Increments per variant.") var increments = 50_000_000
    @Option(help: "Rounds (the best of each variant is reported).") var rounds = 3
    @Option(help: "/metrics scrapes to time.") var scrapes = 2000

    func run() throws {
        let registry = PrometheusCollectorRegistry()
        let ours = WardlineRuntime.Counter()
        let prometheus = registry.makeCounter(descriptor: MetricNameDescriptor(metricName: "bench_prometheus_total", unitName: "", helpText: "bench"))
        let viaMetrics = CoreMetrics.Counter(
            label: "bench_metrics_total", dimensions: [],
            handler: registry.makeCounter(descriptor: MetricNameDescriptor(metricName: "bench_metrics_total", unitName: "", helpText: "bench")),
            factory: PrometheusMetricsFactory(registry: registry))
        let both = (WardlineRuntime.Counter(),
                    registry.makeCounter(descriptor: MetricNameDescriptor(metricName: "bench_both_total", unitName: "", helpText: "bench")))
        let n = increments
        let variants: [(String, () -> Void)] = [
            ("Wardline Counter.add (Atomic<Int>)", { for _ in 0..<n { ours.add() } }),
            ("swift-prometheus Counter.increment", { for _ in 0..<n { prometheus.increment() } }),
            ("swift-metrics Counter (→ prometheus)", { for _ in 0..<n { viaMetrics.increment() } }),
            ("Wardline Counter + prometheus Counter", { for _ in 0..<n { both.0.add(); both.1.increment() } }),
        ]
        var best = [Double](repeating: .infinity, count: variants.count)
        for _ in 0..<rounds {
            for (i, v) in variants.enumerated() {
                let t0 = monotonicSeconds()
                v.1()
                best[i] = min(best[i], (monotonicSeconds() - t0) / Double(n) * 1e9)
            }
        }
        for (i, v) in variants.enumerated() {
            print(String(format: "%-42@ %6.2f ns/increment   %.2f× Wardline's", v.0 as NSString, best[i], best[i] / best[0]))
        }
        print("(counts: \(ours.count) \(both.0.count); per message the hot path adds to 2 counters: messages received, readings accepted)")

        let counters = PipelineCounters()
        for (i, reason) in RejectReason.allCases.enumerated() { counters.rejected(reason).add(i) }
        counters.messagesReceived.add(123_456)
        for i in 0..<200 { counters.alarmCommitLatency.record(milliseconds: Int64(i)) }
        let text = MetricsText(counters: counters, web: WebStats(), ringOccupancy: { 17 }, ringCapacity: 65536,
                               writerWaiting: { 3 }, journal: { (1 << 30, 1 << 28, false) }, clocks: DeviceClocks(alarmAbove: 60_000))
        var bytes = text.render().utf8.count
        let t0 = monotonicSeconds()
        for _ in 0..<scrapes { bytes = text.render().utf8.count }
        print(String(format: "/metrics render: %.1f µs per scrape (%d bytes)", (monotonicSeconds() - t0) / Double(scrapes) * 1e6, bytes))
    }
}
