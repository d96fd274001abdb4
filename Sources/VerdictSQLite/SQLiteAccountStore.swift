import Foundation
import GRDB
import VerdictCore
import VerdictStore

/// Keys, credits and usage in the shared SQLite file. Each reservation and each settlement is one write
/// transaction, and SQLite serialises writers, so two requests can never both spend the last credits.
public struct SQLiteAccountStore: AccountStore {
    let database: VerdictDatabase

    public init(database: VerdictDatabase) {
        self.database = database
    }

    public func createKey(name: String, plan: Plan, monthlyCredits: Int?) async throws -> CreatedKey {
        let draft = try KeyDraft(name: name, plan: plan, monthlyCredits: monthlyCredits)
        let id = try await write { db -> Int64? in
            let taken = try Bool.fetchOne(
                db,
                sql: "SELECT 1 FROM api_key WHERE name = ? AND revoked_at IS NULL",
                arguments: [draft.name]
            )
            if taken == true { return nil }
            try db.execute(
                sql: """
                    INSERT INTO api_key (name, prefix, hash, plan, monthly_credits, created_at)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    draft.name, draft.prefix, Data(draft.hash), draft.plan.rawValue, draft.monthlyCredits,
                    draft.createdAt.timeIntervalSince1970,
                ]
            )
            return db.lastInsertedRowID
        }
        guard let id else { throw draft.nameTaken }
        return draft.created(id: id)
    }

    public func keys() async throws -> [APIKey] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM api_key ORDER BY id").map(Self.key(from:))
        }
    }

    public func revokeKey(named name: String) async throws -> Bool {
        try await write { db in
            try db.execute(
                sql: "UPDATE api_key SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
                arguments: [Date().timeIntervalSince1970, name]
            )
            return db.changesCount > 0
        }
    }

    public func authenticate(secret: String) async throws -> APIKey? {
        guard let prefix = APIKeySecret.prefix(of: secret) else { return nil }
        let presented = APIKeySecret.hash(secret)
        let candidates = try await read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT * FROM api_key WHERE prefix = ? AND revoked_at IS NULL",
                arguments: [prefix]
            ).map { (Self.key(from: $0), [UInt8]($0["hash"] as Data)) }
        }
        return candidates.first { APIKeySecret.constantTimeEqual($0.1, presented) }?.0
    }

    public func reserveCredits(keyID: Int64, amount: Int, at time: Date) async throws -> ReservationOutcome {
        let month = usageMonth(of: time)
        return try await write { db in
            // In the same transaction as the spending: a key revoked while its request was being read spends
            // nothing.
            let active = try Bool.fetchOne(
                db,
                sql: "SELECT revoked_at IS NULL FROM api_key WHERE id = ?",
                arguments: [keyID]
            )
            guard active == true else { return .keyRevoked }
            try Self.ensureUsageRow(db, keyID: keyID, month: month)
            let limit = try Self.monthlyCredits(db, keyID: keyID)
            let used = try Self.creditsUsed(db, keyID: keyID, month: month)
            if let limit, used + amount > limit {
                return .insufficient(required: amount, remaining: max(0, limit - used))
            }
            try db.execute(
                sql: "UPDATE key_usage SET credits_used = credits_used + ? WHERE key_id = ? AND month = ?",
                arguments: [amount, keyID, month]
            )
            try db.execute(
                sql: "INSERT INTO credit_reservation (key_id, month, amount, created_at) VALUES (?, ?, ?, ?)",
                arguments: [keyID, month, amount, time.timeIntervalSince1970]
            )
            let reservation = CreditReservation(id: db.lastInsertedRowID, keyID: keyID, month: month, amount: amount)
            return .reserved(reservation, remaining: limit.map { $0 - used - amount })
        }
    }

    public func settle(_ reservation: CreditReservation, charged: Int, requestID: String) async throws -> Int? {
        let charged = min(max(0, charged), reservation.amount)
        return try await write { db in
            // Settled with a charge before (a retry whose first try was written): nothing more to do.
            let settled = try Bool.fetchOne(
                db,
                sql: "SELECT EXISTS (SELECT 1 FROM credit_ledger WHERE reservation_id = ?)",
                arguments: [reservation.id]
            )
            if settled == true { return try Self.creditsLeft(db, keyID: reservation.keyID, month: reservation.month) }
            try db.execute(sql: "DELETE FROM credit_reservation WHERE id = ?", arguments: [reservation.id])
            // Already given back by the stale-reservation sweep: then the charge is all that is left to apply.
            let refund = db.changesCount > 0 ? reservation.amount - charged : -charged
            try db.execute(
                sql: "UPDATE key_usage SET credits_used = MAX(0, credits_used - ?) WHERE key_id = ? AND month = ?",
                arguments: [refund, reservation.keyID, reservation.month]
            )
            if charged > 0 {
                try db.execute(
                    sql: """
                        INSERT INTO credit_ledger (key_id, month, request_id, credits, at, reservation_id)
                        VALUES (?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        reservation.keyID, reservation.month, requestID, charged, Date().timeIntervalSince1970,
                        reservation.id,
                    ]
                )
            }
            return try Self.creditsLeft(db, keyID: reservation.keyID, month: reservation.month)
        }
    }

    public func addUsage(_ counters: [UsageKey: UsageCounters]) async throws {
        guard !counters.isEmpty else { return }
        try await write { db in
            for (key, counts) in counters {
                try Self.ensureUsageRow(db, keyID: key.keyID, month: key.month)
                try db.execute(
                    sql: """
                        UPDATE key_usage SET requests = requests + ?, lookups = lookups + ?, cache_hits = cache_hits + ?,
                            upstream_lookups = upstream_lookups + ?, suppressed = suppressed + ?
                        WHERE key_id = ? AND month = ?
                        """,
                    arguments: [
                        counts.requests, counts.lookups, counts.cacheHits, counts.upstreamLookups, counts.suppressed,
                        key.keyID, key.month,
                    ]
                )
            }
        }
    }

    public func usage(keyID: Int64, at time: Date) async throws -> KeyUsage {
        let month = usageMonth(of: time)
        return try await read { db in
            let row = try Row.fetchOne(
                db,
                sql: "SELECT * FROM key_usage WHERE key_id = ? AND month = ?",
                arguments: [keyID, month]
            )
            let counters = UsageCounters(
                requests: row?["requests"] ?? 0,
                lookups: row?["lookups"] ?? 0,
                cacheHits: row?["cache_hits"] ?? 0,
                upstreamLookups: row?["upstream_lookups"] ?? 0,
                suppressed: row?["suppressed"] ?? 0
            )
            return KeyUsage(
                month: month,
                creditsUsed: row?["credits_used"] ?? 0,
                creditsLeft: try Self.creditsLeft(db, keyID: keyID, month: month),
                counters: counters
            )
        }
    }

    public func releaseStaleReservations(olderThan age: Double, at time: Date) async throws -> Int {
        try await write { db in
            let cutoff = time.timeIntervalSince1970 - age
            let stale = try Row.fetchAll(
                db,
                sql: "SELECT id, key_id, month, amount FROM credit_reservation WHERE created_at < ?",
                arguments: [cutoff]
            )
            for row in stale {
                let amount: Int = row["amount"]
                let keyID: Int64 = row["key_id"]
                let month: String = row["month"]
                try db.execute(
                    sql: "UPDATE key_usage SET credits_used = MAX(0, credits_used - ?) WHERE key_id = ? AND month = ?",
                    arguments: [amount, keyID, month]
                )
            }
            try db.execute(sql: "DELETE FROM credit_reservation WHERE created_at < ?", arguments: [cutoff])
            return stale.count
        }
    }

    public func countRequests(_ counts: [Int64: Int], window: Int64) async throws -> [Int64: Int] {
        guard !counts.isEmpty else { return [:] }
        return try await write { db in
            try db.execute(sql: "DELETE FROM key_request WHERE window_start < ?", arguments: [window])
            var totals: [Int64: Int] = [:]
            for (keyID, count) in counts {
                totals[keyID] = try Int.fetchOne(
                    db,
                    sql: """
                        INSERT INTO key_request (key_id, window_start, total) VALUES (?, ?, ?)
                        ON CONFLICT (key_id, window_start) DO UPDATE SET total = total + excluded.total
                        RETURNING total
                        """,
                    arguments: [keyID, window, count]
                )
            }
            return totals
        }
    }

    public func isReachable() async -> Bool {
        await database.isReachable()
    }

    // MARK: - Helpers

    static func key(from row: Row) -> APIKey {
        let revoked: Double? = row["revoked_at"]
        return APIKey(
            id: row["id"],
            name: row["name"],
            prefix: row["prefix"],
            plan: Plan(rawValue: row["plan"]) ?? .free,
            monthlyCredits: row["monthly_credits"],
            createdAt: Date(timeIntervalSince1970: row["created_at"]),
            revokedAt: revoked.map(Date.init(timeIntervalSince1970:))
        )
    }

    static func ensureUsageRow(_ db: Database, keyID: Int64, month: String) throws {
        try db.execute(
            sql: "INSERT OR IGNORE INTO key_usage (key_id, month) VALUES (?, ?)",
            arguments: [keyID, month]
        )
    }

    static func monthlyCredits(_ db: Database, keyID: Int64) throws -> Int? {
        let row = try Row.fetchOne(db, sql: "SELECT monthly_credits FROM api_key WHERE id = ?", arguments: [keyID])
        return row?["monthly_credits"]
    }

    static func creditsLeft(_ db: Database, keyID: Int64, month: String) throws -> Int? {
        guard let limit = try monthlyCredits(db, keyID: keyID) else { return nil }
        return max(0, limit - (try creditsUsed(db, keyID: keyID, month: month)))
    }

    static func creditsUsed(_ db: Database, keyID: Int64, month: String) throws -> Int {
        try Int.fetchOne(
            db,
            sql: "SELECT credits_used FROM key_usage WHERE key_id = ? AND month = ?",
            arguments: [keyID, month]
        ) ?? 0
    }

    public func ownLookups(keyID: Int64, of indicators: [Indicator]) async throws -> [Indicator: Date] {
        guard !indicators.isEmpty else { return [:] }
        return try await read { db in
            var found: [Indicator: Date] = [:]
            for indicator in indicators {
                if let first = try Double.fetchOne(
                    db,
                    sql: "SELECT first_at FROM key_lookup WHERE key_id = ? AND type = ? AND value = ?",
                    arguments: [keyID, indicator.type.rawValue, indicator.value]
                ) {
                    found[indicator] = Date(timeIntervalSince1970: first)
                }
            }
            return found
        }
    }

    public func recordOwnLookups(keyID: Int64, _ indicators: [Indicator], at time: Date) async throws {
        guard !indicators.isEmpty else { return }
        try await write { db in
            for indicator in indicators {
                try db.execute(
                    sql: "INSERT OR IGNORE INTO key_lookup (key_id, type, value, first_at) VALUES (?, ?, ?, ?)",
                    arguments: [keyID, indicator.type.rawValue, indicator.value, time.timeIntervalSince1970]
                )
            }
        }
    }

    /// Store failures become `StoreError`s that say what to check; the server answers them with 503.
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await database.writer.write(body)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError("the database \(database.path ?? "in memory") failed (\(error))", isUnavailable: true)
        }
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await database.writer.read(body)
        } catch {
            throw StoreError("the database \(database.path ?? "in memory") failed (\(error))", isUnavailable: true)
        }
    }
}
