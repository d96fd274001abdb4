import Foundation
import VerdictSources

/// What one shared window take costs in SQLite (`verdict bench budget`): `connections` connections to one
/// file stand in for as many processes, each taking calls from one source's windows as fast as it can.
public struct BudgetBenchmark: Sendable {
    public struct Report: Sendable {
        public var takes: Int
        public var connections: Int
        /// Latency of one `admit` (the take), in microseconds.
        public var takeMicroseconds: (p50: Double, p99: Double)
        /// Latency of one `admit` and its `settle` (what an upstream call adds), in microseconds.
        public var roundMicroseconds: (p50: Double, p99: Double)
        public var takesPerSecond: Double
    }

    public var takes: Int
    public var connections: Int

    public init(takes: Int = 2000, connections: Int = 1) {
        self.takes = max(1, takes)
        self.connections = max(1, connections)
    }

    public func run() async throws -> Report {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "verdict-bench-budget-\(UUID().uuidString)"
        ).path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var stores: [SQLiteSourceBudgetStore] = []
        for _ in 0..<connections {
            stores.append(
                SQLiteSourceBudgetStore(
                    database: try await VerdictDatabase.open(directory: directory, singleConnection: true)
                )
            )
        }
        // VirusTotal's free plan with room for every take, so each one writes.
        let policy = GovernorPolicy(windows: [.perMinute(Int.max / 2), .perDay(Int.max / 2)])
        let key = BudgetKey(source: "virustotal", fingerprint: "bench")
        let perConnection = takes / connections
        let clock = ContinuousClock()
        let started = clock.now
        let samples = try await withThrowingTaskGroup(of: ([Double], [Double]).self) { group in
            for store in stores {
                group.addTask {
                    var take: [Double] = []
                    var round: [Double] = []
                    for _ in 0..<perConnection {
                        let before = clock.now
                        _ = try await store.admit(key, policy: policy, at: Date().timeIntervalSince1970)
                        let admitted = clock.now
                        try await store.settle(
                            key,
                            .answered(quota: nil),
                            wasProbe: false,
                            policy: policy,
                            at: Date().timeIntervalSince1970
                        )
                        take.append(Self.microseconds(admitted - before))
                        round.append(Self.microseconds(clock.now - before))
                    }
                    return (take, round)
                }
            }
            var take: [Double] = []
            var round: [Double] = []
            for try await (one, two) in group {
                take += one
                round += two
            }
            return (take, round)
        }
        let seconds = (clock.now - started).inSeconds
        return Report(
            takes: samples.0.count,
            connections: connections,
            takeMicroseconds: Self.percentiles(samples.0),
            roundMicroseconds: Self.percentiles(samples.1),
            takesPerSecond: Double(samples.0.count) / seconds
        )
    }

    static func microseconds(_ duration: Duration) -> Double { duration.inSeconds * 1e6 }

    static func percentiles(_ values: [Double]) -> (p50: Double, p99: Double) {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return (0, 0) }
        return (sorted[sorted.count / 2], sorted[min(sorted.count - 1, sorted.count * 99 / 100)])
    }
}
