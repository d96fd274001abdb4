import Foundation
import PostgresNIO
import VerdictCore
import VerdictStore

/// Keys, credits and usage in PostgreSQL, shared by every replica. A reservation is one conditional `UPDATE`
/// (`credits_used + n <= limit`) on the key's usage row: PostgreSQL re-checks the condition on the row as the
/// previous writer left it, so replicas racing for the last credits can never take a key past its plan.
public struct PostgresAccountStore: AccountStore {
    let database: PostgresDatabase
    var quiet: Logger { PostgresDatabase.quiet }

    public init(database: PostgresDatabase) {
        self.database = database
    }

    public func createKey(name: String, plan: Plan, monthlyCredits: Int?) async throws -> CreatedKey {
        let draft = try KeyDraft(name: name, plan: plan, monthlyCredits: monthlyCredits)
        let hash = Self.hex(draft.hash)
        let id: Int64? = try await database.withConnection("create a key in") { connection in
            // The unique index on active names decides between two replicas creating the same name.
            let rows = try await connection.query(
                """
                INSERT INTO api_key (name, prefix, hash, plan, monthly_credits, created_at)
                VALUES (\(draft.name), \(draft.prefix), \(hash), \(draft.plan.rawValue), \(draft.monthlyCredits),
                        \(draft.createdAt.timeIntervalSince1970))
                ON CONFLICT (name) WHERE revoked_at IS NULL DO NOTHING
                RETURNING id
                """,
                logger: quiet
            )
            for try await id in rows.decode(Int64.self) { return id }
            return nil
        }
        guard let id else { throw draft.nameTaken }
        return draft.created(id: id)
    }

    public func keys() async throws -> [APIKey] {
        try await database.withConnection("read the keys in") { connection in
            try await Self.keys(
                connection.query("\(unescaped: Self.keyColumns) FROM api_key ORDER BY id", logger: quiet)
            ).map(\.key)
        }
    }

    public func revokeKey(named name: String) async throws -> Bool {
        let now = Date().timeIntervalSince1970
        return try await database.withConnection("revoke a key in") { connection in
            let rows = try await connection.query(
                "UPDATE api_key SET revoked_at = \(now) WHERE name = \(name) AND revoked_at IS NULL RETURNING id",
                logger: quiet
            )
            var revoked = false
            for try await _ in rows.decode(Int64.self) { revoked = true }
            return revoked
        }
    }

    public func authenticate(secret: String) async throws -> APIKey? {
        guard let prefix = APIKeySecret.prefix(of: secret) else { return nil }
        let presented = APIKeySecret.hash(secret)
        let candidates = try await database.withConnection("check a key in") { connection in
            try await Self.keys(
                connection.query(
                    "\(unescaped: Self.keyColumns) FROM api_key WHERE prefix = \(prefix) AND revoked_at IS NULL",
                    logger: quiet
                )
            )
        }
        return candidates.first { APIKeySecret.constantTimeEqual(Self.bytes($0.hash), presented) }?.key
    }

    public func reserveCredits(keyID: Int64, amount: Int, at time: Date) async throws -> ReservationOutcome {
        let month = usageMonth(of: time)
        let created = time.timeIntervalSince1970
        return try await database.withConnection("reserve credits in") { connection in
            // One statement, one round trip: the month's usage row is created with the amount or, if there, raised
            // by it only while it stays within the plan (ON CONFLICT locks the row and checks the latest version,
            // so racing replicas queue on it), and the reservation is written from what was taken.
            let taken = try await connection.query(
                """
                WITH taken AS (
                    INSERT INTO key_usage AS usage (key_id, month, credits_used)
                    SELECT key.id, \(month), \(amount) FROM api_key AS key
                    WHERE key.id = \(keyID) AND key.revoked_at IS NULL
                      AND (key.monthly_credits IS NULL OR \(amount) <= key.monthly_credits)
                    ON CONFLICT (key_id, month) DO UPDATE SET credits_used = usage.credits_used + excluded.credits_used
                    WHERE (SELECT key.monthly_credits IS NULL OR usage.credits_used + excluded.credits_used <= key.monthly_credits
                           FROM api_key AS key WHERE key.id = usage.key_id AND key.revoked_at IS NULL)
                    RETURNING usage.credits_used
                ), held AS (
                    INSERT INTO credit_reservation (key_id, month, amount, created_at)
                    SELECT \(keyID), \(month), \(amount), \(created) FROM taken
                    RETURNING id
                )
                SELECT held.id, taken.credits_used, key.monthly_credits
                FROM held, taken, api_key AS key WHERE key.id = \(keyID)
                """,
                logger: quiet
            )
            for try await (id, used, limit) in taken.decode((Int64, Int, Int?).self) {
                let reservation = CreditReservation(id: id, keyID: keyID, month: month, amount: amount)
                return .reserved(reservation, remaining: limit.map { $0 - used })
            }
            // Nothing taken: the key is gone, or has too few credits left.
            let rows = try await connection.query(
                """
                SELECT key.revoked_at IS NULL, key.monthly_credits, COALESCE(usage.credits_used, 0)
                FROM api_key AS key LEFT JOIN key_usage AS usage ON usage.key_id = key.id AND usage.month = \(month)
                WHERE key.id = \(keyID)
                """,
                logger: quiet
            )
            for try await (active, limit, used) in rows.decode((Bool, Int?, Int).self) where active {
                return .insufficient(required: amount, remaining: max(0, (limit ?? 0) - used))
            }
            return .keyRevoked
        }
    }

    public func settle(_ reservation: CreditReservation, charged: Int, requestID: String) async throws -> Int? {
        let charged = min(max(0, charged), reservation.amount)
        let now = Date().timeIntervalSince1970
        return try await database.withConnection("settle credits in") { connection in
            do {
                return try await Self.settle(reservation, charged: charged, requestID: requestID, at: now, connection)
            } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
                // Another try of this settlement was written first (the ledger's index on the reservation).
                return try await Self.creditsLeft(connection, keyID: reservation.keyID, month: reservation.month)
            }
        }
    }

    /// One statement, one round trip. A reservation already settled with a charge changes nothing; one the
    /// stale-reservation sweep already gave back is gone, and then the charge is all that is left to apply.
    static func settle(
        _ reservation: CreditReservation,
        charged: Int,
        requestID: String,
        at now: Double,
        _ connection: PostgresConnection
    ) async throws -> Int? {
        let rows = try await connection.query(
            """
            WITH settled AS (
                SELECT EXISTS (SELECT 1 FROM credit_ledger WHERE reservation_id = \(reservation.id)) AS before
            ), released AS (
                DELETE FROM credit_reservation WHERE id = \(reservation.id) AND NOT (SELECT before FROM settled)
                RETURNING id
            ), adjusted AS (
                UPDATE key_usage SET credits_used = GREATEST(0, credits_used - CASE
                    WHEN EXISTS (SELECT 1 FROM released) THEN \(reservation.amount - charged) ELSE \(-charged) END)
                WHERE key_id = \(reservation.keyID) AND month = \(reservation.month) AND NOT (SELECT before FROM settled)
                RETURNING credits_used
            ), charged AS (
                INSERT INTO credit_ledger (key_id, month, request_id, credits, at, reservation_id)
                SELECT \(reservation.keyID), \(reservation.month), \(requestID), \(charged), \(now), \(reservation.id)
                WHERE \(charged) > 0 AND NOT (SELECT before FROM settled)
            )
            SELECT key.monthly_credits,
                   COALESCE((SELECT credits_used FROM adjusted),
                            (SELECT credits_used FROM key_usage
                             WHERE key_id = \(reservation.keyID) AND month = \(reservation.month)), 0)
            FROM api_key AS key WHERE key.id = \(reservation.keyID)
            """,
            logger: PostgresDatabase.quiet
        )
        for try await (limit, used) in rows.decode((Int?, Int).self) {
            return limit.map { max(0, $0 - used) }
        }
        return nil
    }

    public func addUsage(_ counters: [UsageKey: UsageCounters]) async throws {
        guard !counters.isEmpty else { return }
        try await database.transaction("count usage in") { connection in
            for (key, counts) in counters.sorted(by: { ($0.key.keyID, $0.key.month) < ($1.key.keyID, $1.key.month) }) {
                // One statement per key and month; sorted, so two replicas' batches lock rows in the same order.
                try await connection.query(
                    """
                    INSERT INTO key_usage (key_id, month, requests, lookups, cache_hits, upstream_lookups, suppressed)
                    VALUES (\(key.keyID), \(key.month), \(counts.requests), \(counts.lookups), \(counts.cacheHits),
                            \(counts.upstreamLookups), \(counts.suppressed))
                    ON CONFLICT (key_id, month) DO UPDATE SET
                        requests = key_usage.requests + excluded.requests,
                        lookups = key_usage.lookups + excluded.lookups,
                        cache_hits = key_usage.cache_hits + excluded.cache_hits,
                        upstream_lookups = key_usage.upstream_lookups + excluded.upstream_lookups,
                        suppressed = key_usage.suppressed + excluded.suppressed
                    """,
                    logger: quiet
                )
            }
        }
    }

    public func usage(keyID: Int64, at time: Date) async throws -> KeyUsage {
        let month = usageMonth(of: time)
        return try await database.withConnection("read usage in") { connection in
            let rows = try await connection.query(
                """
                SELECT credits_used, requests, lookups, cache_hits, upstream_lookups, suppressed
                FROM key_usage WHERE key_id = \(keyID) AND month = \(month)
                """,
                logger: quiet
            )
            var used = 0
            var counters = UsageCounters()
            for try await (credits, requests, lookups, hits, upstream, suppressed) in rows.decode(
                (Int, Int, Int, Int, Int, Int).self
            ) {
                used = credits
                counters = UsageCounters(
                    requests: requests,
                    lookups: lookups,
                    cacheHits: hits,
                    upstreamLookups: upstream,
                    suppressed: suppressed
                )
            }
            return KeyUsage(
                month: month,
                creditsUsed: used,
                creditsLeft: try await Self.creditsLeft(connection, keyID: keyID, month: month),
                counters: counters
            )
        }
    }

    public func releaseStaleReservations(olderThan age: Double, at time: Date) async throws -> Int {
        let cutoff = time.timeIntervalSince1970 - age
        return try await database.transaction("give back stale reservations in") { connection in
            // Deleted and given back in one statement each way: a settlement racing the sweep finds the row gone
            // and charges only what it owes (see `settle`).
            let stale = try await connection.query(
                "DELETE FROM credit_reservation WHERE created_at < \(cutoff) RETURNING key_id, month, amount",
                logger: quiet
            )
            var released: [(Int64, String, Int)] = []
            for try await row in stale.decode((Int64, String, Int).self) { released.append(row) }
            for (keyID, month, amount) in released {
                try await connection.query(
                    """
                    UPDATE key_usage SET credits_used = GREATEST(0, credits_used - \(amount))
                    WHERE key_id = \(keyID) AND month = \(month)
                    """,
                    logger: quiet
                )
            }
            return released.count
        }
    }

    public func ownLookups(keyID: Int64, of indicators: [Indicator]) async throws -> [Indicator: Date] {
        guard !indicators.isEmpty else { return [:] }
        let values = indicators.map(\.value)
        let byKey = Dictionary(indicators.map { ("\($0.type.rawValue)\u{0}\($0.value)", $0) }) { first, _ in first }
        return try await database.withConnection("read a key's lookups in") { connection in
            let rows = try await connection.query(
                "SELECT type, value, first_at FROM key_lookup WHERE key_id = \(keyID) AND value = ANY(\(values))",
                logger: quiet
            )
            var found: [Indicator: Date] = [:]
            for try await (type, value, first) in rows.decode((String, String, Double).self) {
                if let indicator = byKey["\(type)\u{0}\(value)"] {
                    found[indicator] = Date(timeIntervalSince1970: first)
                }
            }
            return found
        }
    }

    public func recordOwnLookups(keyID: Int64, _ indicators: [Indicator], at time: Date) async throws {
        guard !indicators.isEmpty else { return }
        let types = indicators.map(\.type.rawValue)
        let values = indicators.map(\.value)
        let first = time.timeIntervalSince1970
        try await database.withConnection("note a key's lookups in") { connection in
            try await connection.query(
                """
                INSERT INTO key_lookup (key_id, type, value, first_at)
                SELECT \(keyID), type, value, \(first) FROM UNNEST(\(types)::text[], \(values)::text[]) AS t(type, value)
                ON CONFLICT DO NOTHING
                """,
                logger: quiet
            )
        }
    }

    public func countRequests(_ counts: [Int64: Int], window: Int64) async throws -> [Int64: Int] {
        guard !counts.isEmpty else { return [:] }
        let sorted = counts.sorted { $0.key < $1.key }
        let keys = sorted.map(\.key)
        let added = sorted.map(\.value)
        return try await database.transaction("count requests in") { connection in
            try await connection.query("DELETE FROM key_request WHERE window_start < \(window)", logger: quiet)
            // One statement for the batch; sorted, so two replicas lock the rows in the same order.
            let rows = try await connection.query(
                """
                INSERT INTO key_request (key_id, window_start, total)
                SELECT key_id, \(window), added FROM UNNEST(\(keys)::bigint[], \(added)::bigint[]) AS t(key_id, added)
                ON CONFLICT (key_id, window_start) DO UPDATE SET total = key_request.total + excluded.total
                RETURNING key_id, total
                """,
                logger: quiet
            )
            var totals: [Int64: Int] = [:]
            for try await (keyID, total) in rows.decode((Int64, Int).self) { totals[keyID] = total }
            return totals
        }
    }

    public func isReachable() async -> Bool {
        await database.isReachable()
    }

    // MARK: - Helpers

    static let keyColumns = "SELECT id, name, prefix, hash, plan, monthly_credits, created_at, revoked_at"

    static func keys(_ rows: PostgresRowSequence) async throws -> [(key: APIKey, hash: String)] {
        var keys: [(key: APIKey, hash: String)] = []
        for try await (id, name, prefix, hash, plan, credits, created, revoked) in rows.decode(
            (Int64, String, String, String, String, Int?, Double, Double?).self
        ) {
            let key = APIKey(
                id: id,
                name: name,
                prefix: prefix,
                plan: Plan(rawValue: plan) ?? .free,
                monthlyCredits: credits,
                createdAt: Date(timeIntervalSince1970: created),
                revokedAt: revoked.map(Date.init(timeIntervalSince1970:))
            )
            keys.append((key, hash))
        }
        return keys
    }

    static func creditsLeft(_ connection: PostgresConnection, keyID: Int64, month: String) async throws -> Int? {
        let rows = try await connection.query(
            """
            SELECT key.monthly_credits, COALESCE(usage.credits_used, 0)
            FROM api_key AS key LEFT JOIN key_usage AS usage ON usage.key_id = key.id AND usage.month = \(month)
            WHERE key.id = \(keyID)
            """,
            logger: PostgresDatabase.quiet
        )
        for try await (limit, used) in rows.decode((Int?, Int).self) {
            return limit.map { max(0, $0 - used) }
        }
        return nil
    }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String($0, radix: 16).leftPadded(to: 2) }.joined()
    }

    static func bytes(_ hex: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex, let next = hex.index(index, offsetBy: 2, limitedBy: hex.endIndex) {
            bytes.append(UInt8(hex[index..<next], radix: 16) ?? 0)
            index = next
        }
        return bytes
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
