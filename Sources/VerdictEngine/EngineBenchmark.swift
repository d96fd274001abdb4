import Foundation
import Synchronization
import VerdictCore
import VerdictSources

/// The engine benchmark behind `verdict bench engine` (the engine issue's figures): fan-out latency with
/// ten sources, the cost of a hung source, upstream calls for a Zipf-distributed replay, and cached
/// lookups per second. Sources are simulated in process (a fixed delay, or a hang), so the figures
/// measure the engine, not a network.
public struct EngineBenchmark: Sendable {
    public struct Report: Sendable {
        public var fanOutMilliseconds: (median: Double, max: Double)
        public var hungMilliseconds: (median: Double, max: Double)
        public var hungDeadlineMilliseconds: Int
        public var replayLookups: Int
        public var replayDistinctValues: Int
        public var replayUpstreamCallsPerSource: [Int]
        public var replaySeconds: Double
        public var cachedLookups: Int
        public var cachedSeconds: Double

        public var cachedLookupsPerSecond: Double { Double(cachedLookups) / cachedSeconds }
    }

    /// A source that answers after a fixed delay, or never, and counts its calls.
    final class SimulatedSource: ThreatIntelSource {
        let name: String
        let supportedTypes: Set<IndicatorType> = [.ipv4, .domain]
        let settingsFingerprint = "bench"
        let isExternal = true
        let delay: Duration?
        private let calls = Mutex(0)

        init(name: String, delay: Duration?) {
            self.name = name
            self.delay = delay
        }

        var callCount: Int { calls.withLock { $0 } }

        func lookUp(_ indicator: Indicator) async throws -> SourceResult {
            calls.withLock { $0 += 1 }
            guard let delay else {
                try await Task.sleep(for: .seconds(3600))
                return .notFound(name)
            }
            if delay > .zero { try await Task.sleep(for: delay) }
            // Every seventh value is known-bad, so aggregation does real work.
            return indicator.value.utf8.reduce(0) { $0 &+ Int($1) } % 7 == 0
                ? .found(name, verdict: .malicious, score: 90, evidence: "listed") : .notFound(name)
        }
    }

    public var sourceCount: Int
    public var sourceDelay: Duration
    public var hungDeadline: Duration
    public var replayLookups: Int
    public var replayValues: Int
    public var cachedLookups: Int

    public init(
        sourceCount: Int = 10,
        sourceDelay: Duration = .milliseconds(100),
        hungDeadline: Duration = .milliseconds(500),
        replayLookups: Int = 100_000,
        replayValues: Int = 5000,
        cachedLookups: Int = 200_000
    ) {
        self.sourceCount = sourceCount
        self.sourceDelay = sourceDelay
        self.hungDeadline = hungDeadline
        self.replayLookups = replayLookups
        self.replayValues = replayValues
        self.cachedLookups = cachedLookups
    }

    static func value(_ index: Int) -> Indicator {
        Indicator(type: .ipv4, value: "45.\(index / 65_536 % 256).\(index / 256 % 256).\(index % 256)")
    }

    static func engine(_ sources: [SimulatedSource], deadline: Duration) -> EnrichmentEngine {
        EnrichmentEngine(
            governors: sources.map {
                SourceGovernor(source: $0, policy: GovernorPolicy(deadline: deadline, maxConcurrent: 1024))
            },
            cache: MemoryLookupCache(capacity: 1_000_000)
        )
    }

    static func milliseconds(_ duration: Duration) -> Double { duration.inSeconds * 1000 }

    /// Median and maximum latency of `count` lookups of values never seen before.
    static func latencies(_ engine: EnrichmentEngine, count: Int, offset: Int) async -> (median: Double, max: Double) {
        let clock = ContinuousClock()
        var samples: [Double] = []
        for index in 0..<count {
            let elapsed = await clock.measure { _ = await engine.lookUp(value(offset + index)) }
            samples.append(milliseconds(elapsed))
        }
        samples.sort()
        return (samples[samples.count / 2], samples.last ?? 0)
    }

    public func run() async -> Report {
        let fanOutSources = (0..<sourceCount).map { SimulatedSource(name: "source\($0)", delay: sourceDelay) }
        let fanOut = await Self.latencies(Self.engine(fanOutSources, deadline: .seconds(5)), count: 20, offset: 0)

        let withHung = fanOutSources + [SimulatedSource(name: "hung", delay: nil)]
        let hung = await Self.latencies(Self.engine(withHung, deadline: hungDeadline), count: 5, offset: 100)

        // A replay: Zipf-distributed values (s = 1), 64 lookups in flight at a time.
        let replaySources = (0..<3).map { SimulatedSource(name: "replay\($0)", delay: .milliseconds(1)) }
        let replayEngine = Self.engine(replaySources, deadline: .seconds(5))
        var random = ExtractionBenchmark.SeededGenerator(state: 2026)
        let weights = (1...replayValues).map { 1.0 / Double($0) }
        let total = weights.reduce(0, +)
        var cumulative: [Double] = []
        var running = 0.0
        for weight in weights {
            running += weight / total
            cumulative.append(running)
        }
        let draws = (0..<replayLookups).map { _ in
            let point = Double.random(in: 0..<1, using: &random)
            var low = 0
            var high = cumulative.count - 1
            while low < high {
                let middle = (low + high) / 2
                if cumulative[middle] < point { low = middle + 1 } else { high = middle }
            }
            return low
        }
        let clock = ContinuousClock()
        let replayTime = await clock.measure {
            for batch in stride(from: 0, to: draws.count, by: 64) {
                await withTaskGroup(of: Void.self) { group in
                    for draw in draws[batch..<min(batch + 64, draws.count)] {
                        group.addTask { _ = await replayEngine.lookUp(Self.value(1000 + draw)) }
                    }
                }
            }
        }

        // Cached lookups: every value already answered by all ten sources, one lookup at a time.
        let cachedEngine = Self.engine(
            (0..<sourceCount).map { SimulatedSource(name: "cached\($0)", delay: .zero) },
            deadline: .seconds(5)
        )
        for index in 0..<1000 { _ = await cachedEngine.lookUp(Self.value(200_000 + index)) }
        let lookups = cachedLookups
        let cachedTime = await clock.measure {
            for index in 0..<lookups { _ = await cachedEngine.lookUp(Self.value(200_000 + index % 1000)) }
        }

        return Report(
            fanOutMilliseconds: fanOut,
            hungMilliseconds: hung,
            hungDeadlineMilliseconds: Int(Self.milliseconds(hungDeadline)),
            replayLookups: replayLookups,
            replayDistinctValues: Set(draws).count,
            replayUpstreamCallsPerSource: replaySources.map(\.callCount),
            replaySeconds: Self.milliseconds(replayTime) / 1000,
            cachedLookups: lookups,
            cachedSeconds: Self.milliseconds(cachedTime) / 1000
        )
    }
}
