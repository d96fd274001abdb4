import Foundation
import GRDB
import Synchronization
import Testing
import VerdictCore
import VerdictEngine
import VerdictPostgres
import VerdictSQLite
import VerdictSources
import VerdictStore

struct SQLiteLookupCacheTests {
    let key = CacheKey(
        source: "abuseipdb",
        indicator: Indicator(type: .ipv4, value: "185.220.101.4"),
        fingerprint: "f1"
    )

    static func temporaryDirectory() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("verdict-store-\(UUID().uuidString)").path
    }

    func answer(score: Int, at time: Double) -> CachedAnswer {
        var result = SourceResult.found(
            "abuseipdb",
            verdict: .malicious,
            score: score,
            evidence: "\(score)",
            categories: ["ssh", "bruteforce"],
            link: "https://www.abuseipdb.com/check/185.220.101.4",
            details: .object([("total_reports", .number("47"))])
        )
        result.tags = ["tor"]
        result.firstSeen = "2024-01-01T00:00:00Z"
        result.lastSeen = "2024-05-29T18:33:12+00:00"
        return CachedAnswer(result: result, storedAt: time, expiresAt: time + 86_400)
    }

    @Test func answersRoundTripWithEveryField() async throws {
        let cache = try SQLiteLookupCache(writer: DatabaseQueue())
        #expect(await cache.answer(for: key) == nil)
        let stored = answer(score: 100, at: 1_800_000_000)
        await cache.store(stored, for: key)
        #expect(await cache.answer(for: key) == stored)
        await cache.store(answer(score: 90, at: 1_800_000_100), for: key)  // replaces
        #expect(await cache.answer(for: key)?.result.score == 90)
        #expect(try await cache.count() == 1)
        var other = key
        other.fingerprint = "f2"
        #expect(await cache.answer(for: other) == nil)
    }

    @Test func expiredAnswersAreRemoved() async throws {
        let cache = try SQLiteLookupCache(writer: DatabaseQueue())
        await cache.store(answer(score: 100, at: 1000), for: key)
        #expect(try await cache.removeExpired(before: 1000 + 86_400 + 1) == 1)
        #expect(await cache.answer(for: key) == nil)
    }

    @Test func theFileSurvivesReopeningAndIsSharedByConcurrentWriters() async throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try SQLiteLookupCache(directory: directory)
        let second = try SQLiteLookupCache(directory: directory)  // as another process would open it
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<200 {
                let cache = index.isMultiple(of: 2) ? first : second
                let key = CacheKey(
                    source: "s",
                    indicator: Indicator(type: .domain, value: "d\(index).example-evil.com"),
                    fingerprint: "f"
                )
                group.addTask { await cache.store(answer(score: index % 100, at: 1000), for: key) }
            }
        }
        #expect(try await first.count() == 200)
        let reopened = try SQLiteLookupCache(directory: directory)
        let probe = CacheKey(
            source: "s",
            indicator: Indicator(type: .domain, value: "d7.example-evil.com"),
            fingerprint: "f"
        )
        #expect(await reopened.answer(for: probe)?.result.score == 7)
        #expect(FileManager.default.fileExists(atPath: directory + "/verdict.sqlite-wal"))
    }

    @Test func anUnusableDirectoryIsAClearError() {
        #expect {
            try SQLiteLookupCache(directory: "/proc/verdict-cannot-be-here")
        } throws: { error in
            String(describing: error).hasPrefix("cannot create the data directory /proc/verdict-cannot-be-here")
                && String(describing: error).hasSuffix("set VERDICT_DATA_DIR to a writable directory")
        }
    }

    @Test func theMemoryTierFillsFromTheStore() async throws {
        let store = try SQLiteLookupCache(writer: DatabaseQueue())
        await store.store(answer(score: 100, at: 1000), for: key)
        let tiered = TieredLookupCache(memory: MemoryLookupCache(capacity: 10), store: store)
        #expect(tiered.memory.cachedAnswer(for: key) == nil)
        #expect(await tiered.answer(for: key)?.result.score == 100)
        #expect(tiered.memory.cachedAnswer(for: key)?.result.score == 100)
        var other = key
        other.source = "otx"
        await tiered.store(answer(score: 50, at: 1000), for: other)
        #expect(await store.answer(for: other)?.result.score == 50)
    }
}

/// The memory tier remembers a miss for a moment, so one lookup's repeated questions cost one round trip.
struct TieredMissTests {
    /// A shared store that counts its reads.
    final class CountingCache: LookupCache {
        let inner = MemoryLookupCache()
        let reads = Mutex(0)
        func answer(for key: CacheKey) async -> CachedAnswer? {
            reads.withLock { $0 += 1 }
            return await inner.answer(for: key)
        }
        func store(_ answer: CachedAnswer, for key: CacheKey) async { await inner.store(answer, for: key) }
        func freshAnswers(at time: Double) async throws -> [(key: CacheKey, answer: CachedAnswer)] {
            try await inner.freshAnswers(at: time)
        }
    }

    @Test func aMissIsAskedOnceThenAgainAfterItsMoment() async throws {
        let fixture = SQLiteLookupCacheTests()
        let shared = CountingCache()
        let tiered = TieredLookupCache(store: shared, missLifetime: .seconds(2))
        for _ in 0..<3 { #expect(await tiered.answer(for: fixture.key) == nil) }
        #expect(shared.reads.withLock { $0 } == 1)
        // Another process writes the answer: read once the moment is over.
        await shared.inner.store(fixture.answer(score: 90, at: 1000), for: fixture.key)
        try await Task.sleep(for: .milliseconds(2200))
        #expect(await tiered.answer(for: fixture.key)?.result.score == 90)
        #expect(shared.reads.withLock { $0 } == 2)
        // This process's own answer is seen at once, whatever it missed before.
        var other = fixture.key
        other.source = "otx"
        #expect(await tiered.answer(for: other) == nil)
        await tiered.store(fixture.answer(score: 40, at: 1000), for: other)
        #expect(await tiered.answer(for: other)?.result.score == 40)
    }
}

/// Every `LookupCache` keeps answers whole, replaces them, files them by fingerprint, and (the shared ones)
/// gives what one process wrote to every other.
struct LookupCacheContractTests {
    static let kinds = StoreKind.kinds([.memory, .sqlite, .postgres])

    static func cache(on database: StoreKind.Database) -> any LookupCache {
        if let postgres = database.postgres { return PostgresLookupCache(database: postgres, health: StoreHealth()) }
        if let sqlite = database.sqlite { return SQLiteLookupCache(database: sqlite) }
        return MemoryLookupCache()
    }

    @Test(arguments: kinds) func answersRoundTripAndReachEveryProcess(_ kind: StoreKind) async throws {
        let database = try await kind.database()
        defer { database.cleanUp() }
        let fixture = SQLiteLookupCacheTests()
        let key = fixture.key
        let cache = Self.cache(on: database)
        #expect(await cache.answer(for: key) == nil)
        let stored = fixture.answer(score: 100, at: 1_800_000_000)
        await cache.store(stored, for: key)
        #expect(await cache.answer(for: key) == stored)
        await cache.store(fixture.answer(score: 90, at: 1_800_000_100), for: key)
        #expect(await cache.answer(for: key)?.result.score == 90)
        var other = key
        other.fingerprint = "f2"
        #expect(await cache.answer(for: other) == nil)
        guard kind != .memory else { return }
        let another = try await database.another()
        defer { another.cleanUp() }
        #expect(await Self.cache(on: another).answer(for: key)?.result.score == 90)
    }
}
