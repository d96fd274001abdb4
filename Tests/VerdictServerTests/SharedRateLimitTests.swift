import Foundation
import Testing
import VerdictCore
import VerdictStore

@testable import VerdictServer

/// The per-key request rate limit is one for all replicas on a store: each replica's bucket also pays for the
/// requests the others let in, as it learns them from the store's counts once a second.
struct SharedRateLimitTests {
    /// Three replicas, a limit of 30 a minute, five requests per replica per round; `sharing` replicas share
    /// after each round (as a server does once a second). Returns how many were let in, all in one minute.
    static func admitted(sharing: Bool) async throws -> Int {
        // The store every replica uses; `countRequests` runs on every database in AccountStoreTests.
        let accounts = MemoryAccountStore()
        let key = try await accounts.createKey(name: "soc", plan: .enterprise, monthlyCredits: nil).key
        let replicas = (0..<3).map { _ in KeyRateLimiter(limit: 30, seconds: 60) }
        let noon = 1_796_126_400.0  // the start of a minute
        var admitted = 0
        for round in 0..<10 {
            let now = noon + Double(round)
            for replica in replicas {
                for _ in 0..<5 where (try? replica.admit(key, now: now)) != nil { admitted += 1 }
            }
            if sharing { for replica in replicas { await replica.share(with: accounts, now: now) } }
        }
        return admitted
    }

    @Test func replicasShareOneLimit() async throws {
        // On their own, each replica lets in its whole limit (plus what refills): three times the plan.
        #expect(try await Self.admitted(sharing: false) >= 90)
        // Sharing, the three together let in the limit, and past it at most one round of the others' requests
        // (what they let in before the next share): the price of no store call per request.
        let shared = try await Self.admitted(sharing: true)
        #expect((30...45).contains(shared), "\(shared)")
    }

    @Test func aStoreThatFailsKeepsTheCountsForTheNextShare() async throws {
        let accounts = MemoryAccountStore()
        let key = try await accounts.createKey(name: "soc", plan: .enterprise, monthlyCredits: nil).key
        let limiter = KeyRateLimiter(limit: 10, seconds: 60)
        let noon = 1_796_126_400.0
        for _ in 0..<4 { try limiter.admit(key, now: noon) }
        await limiter.share(with: FailingCounts(), now: noon)
        await limiter.share(with: accounts, now: noon + 1)
        #expect(try await accounts.countRequests([key.id: 0], window: 1_796_126_400) == [key.id: 4])
    }

    /// An account store whose counts cannot be written.
    struct FailingCounts: AccountStore {
        struct Down: Error {}
        func createKey(name: String, plan: Plan, monthlyCredits: Int?) async throws -> CreatedKey { throw Down() }
        func keys() async throws -> [APIKey] { throw Down() }
        func revokeKey(named name: String) async throws -> Bool { throw Down() }
        func authenticate(secret: String) async throws -> APIKey? { throw Down() }
        func reserveCredits(keyID: Int64, amount: Int, at time: Date) async throws -> ReservationOutcome {
            throw Down()
        }
        func settle(_ reservation: CreditReservation, charged: Int, requestID: String) async throws -> Int? {
            throw Down()
        }
        func addUsage(_ counters: [UsageKey: UsageCounters]) async throws { throw Down() }
        func usage(keyID: Int64, at time: Date) async throws -> KeyUsage { throw Down() }
        func releaseStaleReservations(olderThan age: Double, at time: Date) async throws -> Int { throw Down() }
        func ownLookups(keyID: Int64, of indicators: [Indicator]) async throws -> [Indicator: Date] { throw Down() }
        func recordOwnLookups(keyID: Int64, _ indicators: [Indicator], at time: Date) async throws { throw Down() }
        func countRequests(_ counts: [Int64: Int], window: Int64) async throws -> [Int64: Int] { throw Down() }
        func isReachable() async -> Bool { false }
    }
}
