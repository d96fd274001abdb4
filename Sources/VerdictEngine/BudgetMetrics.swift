import VerdictCore
import VerdictSources

/// One reading for `/metrics` (the server's registry and `verdict tail`'s text both show these).
public struct MetricSample: Sendable {
    /// The name between `verdict_` and the unit: `source_quota_remaining`.
    public var metric: String
    /// The unit, last in the name: `calls`, `seconds`, `total`.
    public var unit: String
    public var help: String
    /// A count that only grows (`_total`), rather than a level.
    public var isCounter = false
    public var labels: [(String, String)]
    public var value: Double

    /// `verdict_source_quota_remaining_calls`.
    public var name: String { "verdict_\(metric)_\(unit)" }
}

extension EnrichmentEngine {
    /// The shared budgets as every process on the store sees them, and the stores' failures so far: per source,
    /// the calls left in each window, the time a 429 blocks until, the circuit's state.
    public func budgetMetrics() async -> [MetricSample] {
        var samples: [MetricSample] = []
        for governor in governors {
            let name = governor.source.name
            let status = await governor.budgetStatus()
            for candidate in ["closed", "open", "half_open"] {
                samples.append(
                    MetricSample(
                        metric: "source_circuit",
                        unit: "state",
                        help: "1 for the circuit breaker's current state (shared by every process on the store).",
                        labels: [("source", name), ("state", candidate)],
                        value: status?.circuit == candidate ? 1 : 0
                    )
                )
            }
            for window in status?.windows ?? [] {
                samples.append(
                    MetricSample(
                        metric: "source_quota_remaining",
                        unit: "calls",
                        help: "Calls left in each rate window (shared by every process on the store).",
                        labels: [("source", name), ("window", window.window.description)],
                        value: Double(window.left)
                    )
                )
            }
            samples.append(
                MetricSample(
                    metric: "source_blocked_until",
                    unit: "seconds",
                    help: "After a 429: the Unix time before which the source is not called; 0 when not blocked.",
                    labels: [("source", name)],
                    value: status?.blockedUntil ?? 0
                )
            )
            if let quota = status?.providerQuota {
                samples.append(
                    MetricSample(
                        metric: "source_provider_remaining",
                        unit: "calls",
                        help: "Calls left as the provider's own rate-limit headers last said.",
                        labels: [("source", name)],
                        value: Double(quota.remaining)
                    )
                )
            }
        }
        for store in StoreHealth.Store.allCases {
            samples.append(
                MetricSample(
                    metric: "store_failures",
                    unit: "total",
                    help: "Reads and writes of the shared store that failed (each is logged).",
                    isCounter: true,
                    labels: [("store", store.rawValue)],
                    value: Double(health.failures(store))
                )
            )
        }
        return samples
    }
}

extension [MetricSample] {
    /// Prometheus text exposition, one `# HELP`/`# TYPE` per name.
    public var prometheusText: String {
        var text = ""
        var described: Set<String> = []
        for sample in self {
            if described.insert(sample.name).inserted {
                text +=
                    "# HELP \(sample.name) \(sample.help)\n# TYPE \(sample.name) \(sample.isCounter ? "counter" : "gauge")\n"
            }
            let labels = sample.labels.map { "\($0.0)=\"\($0.1)\"" }.joined(separator: ",")
            text += "\(sample.name){\(labels)} \(sample.value)\n"
        }
        return text
    }
}
