import Foundation
import Synchronization
import VerdictCore

/// Keys, credits and usage in this process's memory: for tests and a throwaway server, with the same rules as the
/// databases' (the contract tests run on all of them). Gone when the process ends.
public final class MemoryAccountStore: AccountStore {
    struct StoredKey {
        var key: APIKey
        var hash: [UInt8]
    }

    struct State {
        var keys: [StoredKey] = []
        var usage: [UsageKey: (credits: Int, counters: UsageCounters)] = [:]
        var reservations: [Int64: (reservation: CreditReservation, createdAt: Double)] = [:]
        /// The reservations settled with a charge, as the ledger of the other stores knows them.
        var charged: Set<Int64> = []
        var nextReservation: Int64 = 1
        var ownLookups: [Int64: [Indicator: Date]] = [:]
        var requests: [Int64: (window: Int64, total: Int)] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    public func createKey(name: String, plan: Plan, monthlyCredits: Int?) async throws -> CreatedKey {
        let draft = try KeyDraft(name: name, plan: plan, monthlyCredits: monthlyCredits)
        let created: CreatedKey? = state.withLock { state in
            guard !state.keys.contains(where: { $0.key.name == draft.name && !$0.key.isRevoked }) else { return nil }
            let created = draft.created(id: Int64(state.keys.count + 1))
            state.keys.append(StoredKey(key: created.key, hash: draft.hash))
            return created
        }
        guard let created else { throw draft.nameTaken }
        return created
    }

    public func keys() async throws -> [APIKey] {
        state.withLock { $0.keys.map(\.key) }
    }

    public func revokeKey(named name: String) async throws -> Bool {
        state.withLock { state in
            guard let index = state.keys.firstIndex(where: { $0.key.name == name && !$0.key.isRevoked }) else {
                return false
            }
            state.keys[index].key.revokedAt = Date()
            return true
        }
    }

    public func authenticate(secret: String) async throws -> APIKey? {
        guard let prefix = APIKeySecret.prefix(of: secret) else { return nil }
        let presented = APIKeySecret.hash(secret)
        return state.withLock { state in
            state.keys.first {
                $0.key.prefix == prefix && !$0.key.isRevoked && APIKeySecret.constantTimeEqual($0.hash, presented)
            }?.key
        }
    }

    public func reserveCredits(keyID: Int64, amount: Int, at time: Date) async throws -> ReservationOutcome {
        let month = usageMonth(of: time)
        return state.withLock { state in
            guard let key = state.keys.first(where: { $0.key.id == keyID })?.key, !key.isRevoked else {
                return .keyRevoked
            }
            let usageKey = UsageKey(keyID: keyID, month: month)
            let used = state.usage[usageKey]?.credits ?? 0
            if let limit = key.monthlyCredits, used + amount > limit {
                return .insufficient(required: amount, remaining: max(0, limit - used))
            }
            state.usage[usageKey, default: (0, UsageCounters())].credits += amount
            let reservation = CreditReservation(id: state.nextReservation, keyID: keyID, month: month, amount: amount)
            state.nextReservation += 1
            state.reservations[reservation.id] = (reservation, time.timeIntervalSince1970)
            return .reserved(reservation, remaining: key.monthlyCredits.map { $0 - used - amount })
        }
    }

    public func settle(_ reservation: CreditReservation, charged: Int, requestID: String) async throws -> Int? {
        let charged = min(max(0, charged), reservation.amount)
        return state.withLock { state in
            let usageKey = UsageKey(keyID: reservation.keyID, month: reservation.month)
            let limit = state.keys.first { $0.key.id == reservation.keyID }?.key.monthlyCredits
            // Settled with a charge before: nothing more to do.
            if state.charged.contains(reservation.id) {
                return limit.map { max(0, $0 - (state.usage[usageKey]?.credits ?? 0)) }
            }
            let held = state.reservations.removeValue(forKey: reservation.id) != nil
            // Already given back by the stale-reservation sweep: then the charge is all that is left to apply.
            let refund = held ? reservation.amount - charged : -charged
            let used = max(0, (state.usage[usageKey]?.credits ?? 0) - refund)
            state.usage[usageKey, default: (0, UsageCounters())].credits = used
            if charged > 0 { state.charged.insert(reservation.id) }
            return limit.map { max(0, $0 - used) }
        }
    }

    public func addUsage(_ counters: [UsageKey: UsageCounters]) async throws {
        state.withLock { state in
            for (key, counts) in counters { state.usage[key, default: (0, UsageCounters())].counters += counts }
        }
    }

    public func usage(keyID: Int64, at time: Date) async throws -> KeyUsage {
        let month = usageMonth(of: time)
        return state.withLock { state in
            let row = state.usage[UsageKey(keyID: keyID, month: month)] ?? (0, UsageCounters())
            let limit = state.keys.first { $0.key.id == keyID }?.key.monthlyCredits
            return KeyUsage(
                month: month,
                creditsUsed: row.credits,
                creditsLeft: limit.map { max(0, $0 - row.credits) },
                counters: row.counters
            )
        }
    }

    public func releaseStaleReservations(olderThan age: Double, at time: Date) async throws -> Int {
        let cutoff = time.timeIntervalSince1970 - age
        return state.withLock { state in
            let stale = state.reservations.values.filter { $0.createdAt < cutoff }.map(\.reservation)
            for reservation in stale {
                state.reservations.removeValue(forKey: reservation.id)
                let usageKey = UsageKey(keyID: reservation.keyID, month: reservation.month)
                let used = state.usage[usageKey]?.credits ?? 0
                state.usage[usageKey]?.credits = max(0, used - reservation.amount)
            }
            return stale.count
        }
    }

    public func ownLookups(keyID: Int64, of indicators: [Indicator]) async throws -> [Indicator: Date] {
        state.withLock { state in
            let own = state.ownLookups[keyID] ?? [:]
            return own.filter { indicators.contains($0.key) }
        }
    }

    public func recordOwnLookups(keyID: Int64, _ indicators: [Indicator], at time: Date) async throws {
        state.withLock { state in
            for indicator in indicators where state.ownLookups[keyID]?[indicator] == nil {
                state.ownLookups[keyID, default: [:]][indicator] = time
            }
        }
    }

    public func countRequests(_ counts: [Int64: Int], window: Int64) async throws -> [Int64: Int] {
        state.withLock { state in
            var totals: [Int64: Int] = [:]
            for (keyID, count) in counts {
                let current = state.requests[keyID].flatMap { $0.window == window ? $0.total : nil } ?? 0
                state.requests[keyID] = (window, current + count)
                totals[keyID] = current + count
            }
            return totals
        }
    }

    public func isReachable() async -> Bool { true }
}
