import Prometheus
import Synchronization

/// Writes the Prometheus text of `/metrics` with swift-prometheus's registry.
///
/// Wardline's counts live where they are kept (atomics: `Counter`, `WebStats`, the ring, the
/// journal gauge…), so the hot paths never pay for the exporter. At each scrape `text` reads them
/// into the registry's counters and gauges (made on first sight, with their HELP text and labels),
/// then has the registry write every family it holds, the histograms recorded into it directly
/// (`Timing`) included. Scrapes are serialised; a counter is brought up to its value by the
/// difference since the last scrape (swift-prometheus's counters only go up), and one that went
/// down (its source was reset) is reset too, which Prometheus reads as a counter reset.
///
/// What swift-prometheus cannot write (it has no summary type) is appended as text, after the
/// registry's families: `summary`.
public final class MetricsExposition: Sendable {
    fileprivate struct Exported {
        var counters: [String: (counter: Prometheus.Counter, last: Int)] = [:]
        var gauges: [String: Prometheus.Gauge] = [:]
    }

    private let registry: PrometheusCollectorRegistry
    private let exported = Mutex(Exported())

    public init(registry: PrometheusCollectorRegistry) { self.registry = registry }

    /// The families `read` reports, and every family the registry already holds.
    public func text(_ read: (inout Scrape) -> Void) -> String {
        exported.withLock { exported in
            var scrape = Scrape(registry: registry, exported: exported)
            exported = Exported()  // the scrape's copy is then the only one: no copy on write
            read(&scrape)
            exported = scrape.exported
            var text = registry.emitToString()
            text += scrape.appended
            return text
        }
    }

    /// One scrape's values, as `MetricsExposition.text` collects them.
    public struct Scrape {
        fileprivate let registry: PrometheusCollectorRegistry
        fileprivate var exported: Exported
        fileprivate var appended = ""

        fileprivate init(registry: PrometheusCollectorRegistry, exported: Exported) {
            self.registry = registry
            self.exported = exported
        }

        /// A counter family: one sample per label set (`[]` for one without labels).
        public mutating func counter(_ name: String, help: String, _ samples: [(labels: [(String, String)], value: Int)]) {
            for (labels, value) in samples {
                let key = Self.key(name, labels)
                var entry = exported.counters[key] ?? (registry.makeCounter(descriptor: Self.descriptor(name, help), labels: labels), 0)
                if value < entry.last {
                    entry.counter.reset()
                    entry.last = 0
                }
                if value > entry.last { entry.counter.increment(by: Int64(value - entry.last)) }
                entry.last = value
                exported.counters[key] = entry
            }
        }

        public mutating func counter(_ name: String, help: String, _ value: Int) {
            counter(name, help: help, [(labels: [], value: value)])
        }

        /// A gauge family; swift-prometheus writes gauges as floating point (`1.0`).
        public mutating func gauge(_ name: String, help: String, _ samples: [(labels: [(String, String)], value: Double)]) {
            for (labels, value) in samples {
                let key = Self.key(name, labels)
                let gauge = exported.gauges[key] ?? registry.makeGauge(descriptor: Self.descriptor(name, help), labels: labels)
                gauge.set(to: value)
                exported.gauges[key] = gauge
            }
        }

        public mutating func gauge(_ name: String, help: String, _ value: Int) {
            gauge(name, help: help, [(labels: [], value: Double(value))])
        }

        /// A summary without quantiles (sum and count), written after the registry's families: swift-prometheus has no summary.
        public mutating func summary(_ name: String, help: String, sum: Double, count: Int) {
            appended += "# HELP \(name) \(help)\n# TYPE \(name) summary\n\(name)_sum \(sum)\n\(name)_count \(count)\n"
        }

        private static func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
        }

        private static func key(_ name: String, _ labels: [(String, String)]) -> String {
            labels.isEmpty ? name : name + "{" + labels.map { "\($0.0)=\($0.1)" }.joined(separator: ",") + "}"
        }
    }
}
