import Foundation
import GRDB
import Synchronization
import Testing
import VerdictCore
import VerdictEngine
import VerdictSQLite
import VerdictSources
import VerdictStore

@testable import VerdictPostgres

/// Every `SourceBudgetStore` keeps the same rules: the same tests run on each implementation.
struct SourceBudgetStoreTests {
    static let kinds = StoreKind.kinds([.memory, .sqlite, .postgres])

    /// A store of that kind, in a database of its own (removed by `cleanUp`).
    static func make(_ kind: StoreKind) async throws -> (store: any SourceBudgetStore, cleanUp: @Sendable () -> Void) {
        let database = try await kind.database()
        if let sqlite = database.sqlite { return (SQLiteSourceBudgetStore(database: sqlite), database.cleanUp) }
        if let postgres = database.postgres { return (PostgresSourceBudgetStore(database: postgres), database.cleanUp) }
        return (MemorySourceBudgetStore(), database.cleanUp)
    }

    let key = BudgetKey(source: "virustotal", fingerprint: "aaaa")
    /// 2026-12-01T12:00:00Z, the start of a minute, an hour and a day.
    let noon = 1_796_126_400.0

    @Test(arguments: kinds) func windowsTakeACallAllOrNothing(_ kind: StoreKind) async throws {
        let (store, cleanUp) = try await Self.make(kind)
        defer { cleanUp() }
        let policy = GovernorPolicy(windows: [.perMinute(2), .perDay(3)])
        var decisions: [BudgetDecision] = []
        for offset in [0.0, 1, 2] { decisions.append(try await store.admit(key, policy: policy, at: noon + offset)) }
        #expect(decisions.prefix(2).allSatisfy { $0 == .admitted(isProbe: false) })
        #expect(
            decisions[2]
                == .refused(.quotaExhausted, "virustotal quota of 2 per minute used (until 2026-12-01T12:01:00Z)")
        )
        // The refused call took nothing from the day: one is left there for the next minute.
        #expect(try await store.admit(key, policy: policy, at: noon + 60) == .admitted(isProbe: false))
        #expect(
            try await store.admit(key, policy: policy, at: noon + 61)
                == .refused(.quotaExhausted, "virustotal quota of 3 per day used (until 2026-12-02T00:00:00Z)")
        )
        let left = try await store.state(of: key).remaining(policy: policy, at: noon + 61)
        #expect(left.map(\.left) == [1, 0])
        // Another key (another fingerprint) is another budget.
        let other = BudgetKey(source: "virustotal", fingerprint: "bbbb")
        #expect(try await store.admit(other, policy: policy, at: noon + 61) == .admitted(isProbe: false))
    }

    @Test(arguments: kinds) func a429BlocksUntilItsWaitAndThenTheWindowsDecide(_ kind: StoreKind) async throws {
        let (store, cleanUp) = try await Self.make(kind)
        defer { cleanUp() }
        let policy = GovernorPolicy(windows: [.perMinute(4)])
        #expect(try await store.admit(key, policy: policy, at: noon) == .admitted(isProbe: false))
        try await store.settle(
            key,
            .rateLimited(waitSeconds: 120, quota: nil),
            wasProbe: false,
            policy: policy,
            at: noon
        )
        #expect(
            try await store.admit(key, policy: policy, at: noon + 30)
                == .refused(.quotaExhausted, "virustotal asked to wait 90 s more (until 2026-12-01T12:02:00Z)")
        )
        #expect(try await store.state(of: key).circuit(at: noon + 30) == "closed", "a quota is not a failure")
        #expect(try await store.admit(key, policy: policy, at: noon + 120) == .admitted(isProbe: false))
    }

    @Test(arguments: kinds) func theCircuitLeasesOneProbeThatRunsOutWhenItsProberDies(_ kind: StoreKind) async throws {
        let (store, cleanUp) = try await Self.make(kind)
        defer { cleanUp() }
        let policy = GovernorPolicy(deadline: .seconds(3), failureThreshold: 2, openSeconds: 30)
        for offset in [0.0, 1] {
            #expect(try await store.admit(key, policy: policy, at: noon + offset) == .admitted(isProbe: false))
            try await store.settle(key, .failed, wasProbe: false, policy: policy, at: noon + offset)
        }
        #expect(try await store.state(of: key).circuit(at: noon + 2) == "open")
        #expect(
            try await store.admit(key, policy: policy, at: noon + 2)
                == .refused(.circuitOpen, "virustotal failed 2 times in a row; next try in 29 s")
        )
        // After openSeconds one caller gets the probe; the others still see the circuit open.
        #expect(try await store.admit(key, policy: policy, at: noon + 31) == .admitted(isProbe: true))
        #expect(try await store.state(of: key).circuit(at: noon + 31.5) == "half_open")
        #expect(
            try await store.admit(key, policy: policy, at: noon + 32)
                == .refused(.circuitOpen, "virustotal failed repeatedly; a probe is in flight")
        )
        // The prober was killed: its lease (deadline + 5 s) runs out and the next caller probes.
        #expect(try await store.admit(key, policy: policy, at: noon + 40) == .admitted(isProbe: true))
        // A cancelled probe hands the lease back at once, and counts as nothing.
        try await store.settle(key, .cancelled, wasProbe: true, policy: policy, at: noon + 41)
        #expect(try await store.admit(key, policy: policy, at: noon + 41) == .admitted(isProbe: true))
        try await store.settle(key, .answered(quota: nil), wasProbe: true, policy: policy, at: noon + 42)
        #expect(try await store.state(of: key).circuit(at: noon + 42) == "closed")
        #expect(try await store.admit(key, policy: policy, at: noon + 43) == .admitted(isProbe: false))
    }

    @Test(arguments: kinds) func aFailedProbeOpensTheCircuitAgain(_ kind: StoreKind) async throws {
        let (store, cleanUp) = try await Self.make(kind)
        defer { cleanUp() }
        let policy = GovernorPolicy(failureThreshold: 1, openSeconds: 10)
        #expect(try await store.admit(key, policy: policy, at: noon) == .admitted(isProbe: false))
        try await store.settle(key, .failed, wasProbe: false, policy: policy, at: noon)
        #expect(try await store.admit(key, policy: policy, at: noon + 10) == .admitted(isProbe: true))
        try await store.settle(key, .failed, wasProbe: true, policy: policy, at: noon + 11)
        #expect(
            try await store.admit(key, policy: policy, at: noon + 12)
                == .refused(.circuitOpen, "virustotal failed 2 times in a row; next try in 9 s")
        )
        // Cancelled calls never count as failures.
        let fresh = BudgetKey(source: "otx", fingerprint: "cccc")
        for _ in 0..<5 {
            #expect(try await store.admit(fresh, policy: policy, at: noon) == .admitted(isProbe: false))
            try await store.settle(fresh, .cancelled, wasProbe: false, policy: policy, at: noon)
        }
        #expect(try await store.state(of: fresh).circuit(at: noon) == "closed")
    }

    @Test(arguments: kinds) func theProvidersOwnCountIsTheTruth(_ kind: StoreKind) async throws {
        let (store, cleanUp) = try await Self.make(kind)
        defer { cleanUp() }
        // AbuseIPDB: 1000 a day, and the headers say how many are left (another machine spent most of them).
        let day = GovernorPolicy(windows: [.perDay(1000)])
        #expect(try await store.admit(key, policy: day, at: noon) == .admitted(isProbe: false))
        let reset = noon + 12 * 3600
        let told = ProviderQuota(limit: 1000, remaining: 2, resetsAt: reset)
        try await store.settle(key, .answered(quota: told), wasProbe: false, policy: day, at: noon)
        #expect(try await store.state(of: key).remaining(policy: day, at: noon).map(\.left) == [2])
        for _ in 0..<2 { #expect(try await store.admit(key, policy: day, at: noon + 1) == .admitted(isProbe: false)) }
        #expect(
            try await store.admit(key, policy: day, at: noon + 2)
                == .refused(.quotaExhausted, "virustotal says its quota of 1000 is used (until 2026-12-02T00:00:00Z)")
        )

        // MISP: a 15-minute window no setting matches stands on its own until its reset.
        let misp = BudgetKey(source: "misp", fingerprint: "dddd")
        let none = GovernorPolicy()
        #expect(try await store.admit(misp, policy: none, at: noon) == .admitted(isProbe: false))
        let spent = ProviderQuota(limit: 60, remaining: 0, resetsAt: noon + 900)
        try await store.settle(misp, .answered(quota: spent), wasProbe: false, policy: none, at: noon)
        #expect(
            try await store.admit(misp, policy: none, at: noon + 10)
                == .refused(.quotaExhausted, "misp says its quota of 60 is used (until 2026-12-01T12:15:00Z)")
        )
        #expect(try await store.admit(misp, policy: none, at: noon + 900) == .admitted(isProbe: false))
        #expect(try await store.state(of: misp).providerQuota == nil, "past its reset the count is forgotten")
    }

    /// Three replicas (pools of their own on one database), 40 takes racing for a 4-a-minute window: exactly 4.
    @Test(arguments: StoreKind.kinds([.sqlite, .postgres])) func racingReplicasGetExactlyTheWindow(
        _ kind: StoreKind
    ) async throws {
        let database = try await kind.database()
        defer { database.cleanUp() }
        var views = [database]
        for _ in 0..<2 { views.append(try await database.another()) }
        defer { for view in views.dropFirst() { view.cleanUp() } }
        let stores: [any SourceBudgetStore] = views.map { view in
            if let postgres = view.postgres { return PostgresSourceBudgetStore(database: postgres) }
            return SQLiteSourceBudgetStore(database: view.sqlite!)
        }
        let policy = GovernorPolicy(windows: [.perMinute(4)])
        let (key, noon) = (self.key, self.noon)
        let admitted = try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<40 {
                let store = stores[index % stores.count]
                group.addTask { try await store.admit(key, policy: policy, at: noon + 5) == .admitted(isProbe: false) }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(admitted == 4)
        #expect(try await stores[2].state(of: key).remaining(policy: policy, at: noon + 6).map(\.left) == [0])
    }

    /// The path a writer takes after losing the race three times (under the row lock) and the usual one write the
    /// same row: each sees what the other took.
    @Test(arguments: StoreKind.kinds([.postgres])) func theLockedAndTheOptimisticWriteOneRow(
        _ kind: StoreKind
    ) async throws {
        let database = try await kind.database()
        defer { database.cleanUp() }
        let store = PostgresSourceBudgetStore(database: try #require(database.postgres))
        let policy = GovernorPolicy(windows: [.perMinute(4)])
        let (key, noon) = (self.key, self.noon)
        let locked = try await store.lockedUpdate(key) { $0.admit(source: key.source, policy: policy, at: noon) }
        #expect(locked == .admitted(isProbe: false))
        #expect(try await store.admit(key, policy: policy, at: noon + 1) == .admitted(isProbe: false))
        #expect(
            try await store.lockedUpdate(key) { $0.admit(source: key.source, policy: policy, at: noon + 2) }
                == .admitted(isProbe: false)
        )
        #expect(try await store.state(of: key).remaining(policy: policy, at: noon + 3).map(\.left) == [1])
    }

    /// Separate connections to one file stand in for separate processes here (the process tests run real
    /// ones): 40 takes racing for a 4-a-minute window get exactly 4.
    @Test func racingConnectionsGetExactlyTheWindow() async throws {
        let directory = SQLiteLookupCacheTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let stores = try (0..<4).map { _ in
            SQLiteSourceBudgetStore(database: try VerdictDatabase(directory: directory, singleConnection: true))
        }
        let policy = GovernorPolicy(windows: [.perMinute(4)])
        let key = self.key
        let noon = self.noon
        let admitted = try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<40 {
                let store = stores[index % stores.count]
                group.addTask { try await store.admit(key, policy: policy, at: noon + 5) == .admitted(isProbe: false) }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(admitted == 4)
        // Kept in the file: a store opened later sees the window spent.
        let later = SQLiteSourceBudgetStore(database: try VerdictDatabase(directory: directory))
        #expect(try await later.state(of: key).remaining(policy: policy, at: noon + 6).map(\.left) == [0])
    }

    @Test func aDamagedStoreFailsWithTheFileAndTheFix() throws {
        let directory = SQLiteLookupCacheTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let file = directory + "/verdict.sqlite"
        try Data(repeating: 0x5A, count: 8192).write(to: URL(fileURLWithPath: file))
        let error = #expect(throws: StoreError.self) { try VerdictDatabase(directory: directory) }
        #expect(
            error?.description.hasPrefix("\(file) is not a readable Verdict database") == true,
            "\(String(describing: error))"
        )
        #expect(error?.description.contains("mv \(file) \(file).broken") == true)
    }
}

/// A store that fails is never silent: the failure is logged and counted, and a budget that cannot be read is
/// never an unlimited one.
struct StoreFailureTests {
    /// A source that counts its calls.
    final class CountingSource: ThreatIntelSource {
        let name = "virustotal"
        let supportedTypes: Set<IndicatorType> = [.ipv4]
        let settingsFingerprint = "v1"
        let isExternal = true
        let calls = Mutex(0)

        func lookUp(_ indicator: Indicator) async throws -> SourceResult {
            calls.withLock { $0 += 1 }
            return .notFound(name)
        }
    }

    @Test func aFailingStoreIsLoggedCountedAndNeverAnUnlimitedBudget() async throws {
        let database = try VerdictDatabase(writer: DatabaseQueue())
        let logged = Mutex<[String]>([])
        let health = StoreHealth(log: { message in logged.withLock { $0.append(message) } })
        let cache = SQLiteLookupCache(database: database, health: health)
        let source = CountingSource()
        let governor = SourceGovernor(
            source: source,
            policy: GovernorPolicy(windows: [.perMinute(4)]),
            budget: SQLiteSourceBudgetStore(database: database),
            health: health
        )
        // Both tables gone, as a damaged or foreign file would be.
        try await database.writer.write { db in
            try db.execute(sql: "DROP TABLE answer; DROP TABLE source_window")
        }
        let address = Indicator(type: .ipv4, value: "45.155.205.233")
        let key = CacheKey(source: "virustotal", indicator: address, fingerprint: "v1")
        #expect(await cache.answer(for: key) == nil)
        #expect(health.failures(.cache) == 1)
        let result = await governor.lookUp(address)
        #expect(result.status == .error)
        #expect(result.error?.hasPrefix("virustotal not asked: the budget store failed (") == true, "\(result)")
        #expect(source.calls.withLock { $0 } == 0, "no budget, no call")
        #expect(health.failures(.budget) == 1)
        let lines = logged.withLock { $0 }
        #expect(lines.first?.hasPrefix("error: cache store failed: cannot read an answer of virustotal: ") == true)
        #expect(lines.last?.hasPrefix("error: budget store failed: virustotal not asked: ") == true, "\(lines)")
        #expect(await governor.budgetStatus() == nil)
    }
}
