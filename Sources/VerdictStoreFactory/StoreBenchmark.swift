import Foundation
import VerdictCore
import VerdictEngine
import VerdictSources
import VerdictStore

/// What the shared stores cost per call (`verdict bench budget`): `connections` pools on one database stand in
/// for as many processes or replicas, each as fast as it can, taking from one source's windows (and settling,
/// as an upstream call does) and reserving and settling a key's credits (as a lookup that reaches a source does),
/// then all of it with the cache's miss and write, which is what the store adds to a lookup that asks a source.
public struct StoreBenchmark: Sendable {
    public struct Report: Sendable {
        public var database: String
        public var takes: Int
        public var connections: Int
        /// One `admit` (the window take), in microseconds.
        public var takeMicroseconds: (p50: Double, p99: Double)
        /// One `admit` and its `settle` (what one upstream call adds), in microseconds.
        public var roundMicroseconds: (p50: Double, p99: Double)
        /// One credit reservation and its settlement, in microseconds.
        public var creditMicroseconds: (p50: Double, p99: Double)
        /// All the store does around one upstream call of a lookup, in microseconds: credits reserved, the cache
        /// asked (a miss), the window taken and settled, the answer cached, the credits settled.
        public var upstreamLookupMicroseconds: (p50: Double, p99: Double)
        public var takesPerSecond: Double
    }

    public var takes: Int
    public var connections: Int
    /// Where to measure; nil is a new SQLite file in a temporary folder (removed afterwards).
    public var location: DatabaseLocation?

    public init(takes: Int = 2000, connections: Int = 1, location: DatabaseLocation? = nil) {
        self.takes = max(1, takes)
        self.connections = max(1, connections)
        self.location = location
    }

    public func run() async throws -> Report {
        let temporary = FileManager.default.temporaryDirectory.appendingPathComponent(
            "verdict-bench-budget-\(UUID().uuidString)"
        ).path
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        let location = self.location ?? .sqliteDirectory(temporary)
        var pools: [Stores] = []
        for _ in 0..<connections {
            pools.append(try await StoreFactory.open(location, singleConnection: true, log: { _ in }))
        }
        // VirusTotal's free plan with room for every take, so each one writes; a key of the run's own.
        let policy = GovernorPolicy(windows: [.perMinute(Int.max / 2), .perDay(Int.max / 2)])
        let key = BudgetKey(source: "virustotal", fingerprint: "bench-\(UUID().uuidString.prefix(8))")
        let account = try await pools[0].accounts.createKey(
            name: "bench-\(UUID().uuidString.prefix(8))",
            plan: .enterprise,
            monthlyCredits: nil
        ).key
        let perConnection = takes / connections
        let clock = ContinuousClock()
        let started = clock.now
        let samples = try await withThrowingTaskGroup(of: ([Double], [Double], [Double], [Double]).self) { group in
            for (pool, stores) in pools.enumerated() {
                group.addTask {
                    var (take, round, credit, lookup): ([Double], [Double], [Double], [Double]) = ([], [], [], [])
                    for index in 0..<perConnection {
                        let before = clock.now
                        _ = try await stores.budget.admit(key, policy: policy, at: Date().timeIntervalSince1970)
                        let admitted = clock.now
                        try await Self.settleAnswered(stores, key: key, policy: policy)
                        let settled = clock.now
                        let outcome = try await stores.accounts.reserveCredits(keyID: account.id, amount: 3, at: Date())
                        if case .reserved(let reservation, _) = outcome {
                            _ = try await stores.accounts.settle(reservation, charged: 3, requestID: "bench-\(index)")
                        }
                        take.append(Self.microseconds(admitted - before))
                        round.append(Self.microseconds(settled - before))
                        credit.append(Self.microseconds(clock.now - settled))
                        lookup.append(
                            Self.microseconds(
                                try await Self.upstreamLookup(
                                    stores,
                                    key: key,
                                    policy: policy,
                                    account: account.id,
                                    value: "203.0.\(pool).\(index)",
                                    clock: clock
                                )
                            )
                        )
                    }
                    return (take, round, credit, lookup)
                }
            }
            var all: ([Double], [Double], [Double], [Double]) = ([], [], [], [])
            for try await (take, round, credit, lookup) in group {
                all.0 += take
                all.1 += round
                all.2 += credit
                all.3 += lookup
            }
            return all
        }
        let seconds = (clock.now - started).inSeconds
        _ = try? await pools[0].accounts.revokeKey(named: account.name)
        for stores in pools { await stores.close() }
        return Report(
            database: pools[0].location,
            takes: samples.0.count,
            connections: connections,
            takeMicroseconds: Self.percentiles(samples.0),
            roundMicroseconds: Self.percentiles(samples.1),
            creditMicroseconds: Self.percentiles(samples.2),
            upstreamLookupMicroseconds: Self.percentiles(samples.3),
            takesPerSecond: Double(samples.0.count) / seconds
        )
    }

    /// The store's part of one lookup that asks a source, in the server's order; the source itself answers at once.
    static func upstreamLookup(
        _ stores: Stores,
        key: BudgetKey,
        policy: GovernorPolicy,
        account: Int64,
        value: String,
        clock: ContinuousClock
    ) async throws -> Duration {
        let started = clock.now
        let outcome = try await stores.accounts.reserveCredits(keyID: account, amount: 3, at: Date())
        let cacheKey = CacheKey(
            source: key.source,
            indicator: Indicator(type: .ipv4, value: value),
            fingerprint: key.fingerprint
        )
        _ = await stores.cache.answer(for: cacheKey)
        _ = try await stores.budget.admit(key, policy: policy, at: Date().timeIntervalSince1970)
        try await settleAnswered(stores, key: key, policy: policy)
        let now = Date().timeIntervalSince1970
        await stores.cache.store(
            CachedAnswer(
                result: .found(key.source, verdict: .harmless, score: 0, evidence: "0 of 70 engines"),
                storedAt: now,
                expiresAt: now + 86_400
            ),
            for: cacheKey
        )
        if case .reserved(let reservation, _) = outcome {
            _ = try await stores.accounts.settle(reservation, charged: 3, requestID: "bench-lookup-\(value)")
        }
        return clock.now - started
    }

    /// Settles an admitted call as the source answering, as most do.
    static func settleAnswered(_ stores: Stores, key: BudgetKey, policy: GovernorPolicy) async throws {
        try await stores.budget.settle(
            key,
            .answered(quota: nil),
            wasProbe: false,
            policy: policy,
            at: Date().timeIntervalSince1970
        )
    }

    static func microseconds(_ duration: Duration) -> Double { duration.inSeconds * 1e6 }

    static func percentiles(_ values: [Double]) -> (p50: Double, p99: Double) {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return (0, 0) }
        return (sorted[sorted.count / 2], sorted[min(sorted.count - 1, sorted.count * 99 / 100)])
    }
}
