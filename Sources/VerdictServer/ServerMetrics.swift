import Prometheus
import Synchronization
import VerdictCore
import VerdictEngine
import VerdictSources

/// The server's Prometheus metrics, in a registry of its own (tests run several servers in one process).
/// Labels are bounded: route templates, status codes, source names, verdicts; never an indicator or a key.
public final class ServerMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    private let cacheHits: Counter
    private let cacheMisses: Counter
    private let creditsCharged: Counter
    private let creditsRefunded: Counter
    private let lookupDuration: DurationHistogram
    private let hitCount = Atomic<Int>(0)
    private let missCount = Atomic<Int>(0)
    private let indicatorsByVerdict: [Verdict: Counter]
    /// The registry validates names and labels on every `make…` call; the hot ones are kept here.
    /// The value each engine-kept counter was last brought up to.
    private let countersShown = Mutex<[String: Double]>([:])
    private let requestSeries = Mutex<[RequestSeriesKey: (count: Counter, duration: DurationHistogram)]>([:])

    struct RequestSeriesKey: Hashable {
        var route: String
        var method: String
        var status: Int
    }

    static let latencyBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
        .milliseconds(2500), .seconds(5), .seconds(10),
    ]

    public init() {
        cacheHits = registry.makeCounter(
            descriptor: Self.name("cache_lookups", "total", "Indicators answered wholly from the cache (hit) or not."),
            labels: [("result", "hit")]
        )
        cacheMisses = registry.makeCounter(
            descriptor: Self.name("cache_lookups", "total", "Indicators answered wholly from the cache (hit) or not."),
            labels: [("result", "miss")]
        )
        creditsCharged = registry.makeCounter(
            descriptor: Self.name("credits_charged", "total", "Credits charged to API keys.")
        )
        creditsRefunded = registry.makeCounter(
            descriptor: Self.name("credits_refunded", "total", "Credits reserved and given back (cache, failures).")
        )
        lookupDuration = registry.makeDurationHistogram(
            descriptor: Self.name("lookup_duration", "seconds", "Time to look a request's indicators up."),
            buckets: Self.latencyBuckets
        )
        var byVerdict: [Verdict: Counter] = [:]
        for verdict in [Verdict.malicious, .suspicious, .harmless, .unknown, .suppressed] {
            byVerdict[verdict] = registry.makeCounter(
                descriptor: Self.name("indicators", "total", "Indicators looked up, by verdict."),
                labels: [("verdict", verdict.rawValue)]
            )
        }
        indicatorsByVerdict = byVerdict
    }

    static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "verdict", metricName: metric, unitName: unit, helpText: help)
    }

    /// One finished HTTP request, by route template (never the raw path), method and status.
    func recordRequest(route: String, method: String, status: Int, duration: Duration) {
        let key = RequestSeriesKey(route: route, method: method, status: status)
        let series =
            requestSeries.withLock { $0[key] }
            ?? {
                let made = (
                    count: registry.makeCounter(
                        descriptor: Self.name("http_requests", "total", "HTTP requests by route, method and status."),
                        labels: [("route", route), ("method", method), ("status", String(status))]
                    ),
                    duration: registry.makeDurationHistogram(
                        descriptor: Self.name("http_request_duration", "seconds", "HTTP request latency by route."),
                        labels: [("route", route)],
                        buckets: Self.latencyBuckets
                    )
                )
                requestSeries.withLock { $0[key] = made }
                return made
            }()
        series.count.increment()
        series.duration.record(duration)
    }

    /// One lookup request's reports: cache hits, verdicts, and each answer a source gave just now.
    /// Indicators looked up since the start (suppressed ones aside), and how many the cache answered wholly.
    var cacheLookups: (hits: Int, total: Int) {
        let hits = hitCount.load(ordering: .relaxed)
        return (hits, hits + missCount.load(ordering: .relaxed))
    }

    func recordLookup(_ reports: [IndicatorReport], duration: Duration) {
        lookupDuration.record(duration)
        for report in reports {
            indicatorsByVerdict[report.verdict]?.increment()
            guard report.verdict != .suppressed else { continue }
            if report.cached {
                cacheHits.increment()
                hitCount.add(1, ordering: .relaxed)
            } else {
                cacheMisses.increment()
                missCount.add(1, ordering: .relaxed)
            }
            // Answers from the cache carry no latency: only what a source said now is counted here.
            for result in report.sources {
                guard let latency = result.latencyMilliseconds else { continue }
                registry.makeCounter(
                    descriptor: Self.name("source_answers", "total", "Answers from each source, by status."),
                    labels: [("source", result.source), ("status", result.status.rawValue)]
                ).increment()
                registry.makeDurationHistogram(
                    descriptor: Self.name("source_latency", "seconds", "Time each source took to answer."),
                    labels: [("source", result.source)],
                    buckets: Self.latencyBuckets
                ).record(.milliseconds(latency))
            }
        }
    }

    func recordCredits(charged: Int, refunded: Int) {
        if charged > 0 { creditsCharged.increment(by: Int64(charged)) }
        if refunded > 0 { creditsRefunded.increment(by: Int64(refunded)) }
    }

    /// The exposition text, with the gauges that are read at scrape time brought up to date first.
    func render(engine: EnrichmentEngine) async -> String {
        for sample in await engine.budgetMetrics() {
            let descriptor = MetricNameDescriptor(
                namespace: "verdict",
                metricName: sample.metric,
                unitName: sample.unit,
                helpText: sample.help
            )
            guard sample.isCounter else {
                registry.makeGauge(descriptor: descriptor, labels: sample.labels).set(sample.value)
                continue
            }
            // The engine keeps the count; the registry's counter is moved up to it.
            let key = sample.name + sample.labels.map { "|\($0.0)=\($0.1)" }.joined()
            let step = countersShown.withLock { shown in
                defer { shown[key] = max(shown[key] ?? 0, sample.value) }
                return sample.value - (shown[key] ?? 0)
            }
            let counter = registry.makeCounter(descriptor: descriptor, labels: sample.labels)
            if step > 0 { counter.increment(by: Int64(step)) }
        }
        let (hits, total) = cacheLookups
        registry.makeGauge(
            descriptor: Self.name("cache_hit", "ratio", "Share of looked-up indicators answered from the cache.")
        ).set(total == 0 ? 0.0 : Double(hits) / Double(total))
        return registry.emitToString()
    }
}
