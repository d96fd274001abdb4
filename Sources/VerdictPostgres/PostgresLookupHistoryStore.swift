import PostgresNIO
import VerdictStore

/// The keys' recent lookups in PostgreSQL: every server on the database shows a key the same history.
public final class PostgresLookupHistoryStore: LookupHistoryStore {
    let database: PostgresDatabase

    public init(database: PostgresDatabase) {
        self.database = database
    }

    public func record(_ entry: LookupHistoryEntry, keep: Int, notBefore: Double) async throws -> Int64 {
        try await database.transaction("keep a lookup in the history in") { connection in
            let rows = try await connection.query(
                """
                INSERT INTO lookup_history (key_id, at, indicators, verdict, credits_charged, results)
                VALUES (\(entry.keyID), \(entry.at), \(entry.indicators.joined(separator: "\n")), \(entry.verdict),
                        \(entry.creditsCharged), \(entry.results))
                RETURNING id
                """,
                logger: PostgresDatabase.quiet
            )
            var id: Int64 = 0
            for try await value in rows.decode(Int64.self) { id = value }
            try await connection.query(
                """
                DELETE FROM lookup_history WHERE key_id = \(entry.keyID) AND (at < \(notBefore) OR id NOT IN (
                    SELECT id FROM lookup_history WHERE key_id = \(entry.keyID) ORDER BY at DESC, id DESC
                    LIMIT \(keep)))
                """,
                logger: PostgresDatabase.quiet
            )
            return id
        }
    }

    public func recent(keyID: Int64, limit: Int, notBefore: Double) async throws -> [LookupHistoryEntry] {
        try await database.withConnection("read the lookup history in") { connection in
            let rows = try await connection.query(
                """
                SELECT id, key_id, at, indicators, verdict, credits_charged, results FROM lookup_history
                WHERE key_id = \(keyID) AND at >= \(notBefore) ORDER BY at DESC, id DESC LIMIT \(limit)
                """,
                logger: PostgresDatabase.quiet
            )
            var entries: [LookupHistoryEntry] = []
            for try await row in rows.decode((Int64, Int64, Double, String, String, Int, String).self) {
                entries.append(
                    LookupHistoryEntry(
                        id: row.0,
                        keyID: row.1,
                        at: row.2,
                        indicators: row.3.split(separator: "\n").map(String.init),
                        verdict: row.4,
                        creditsCharged: row.5,
                        results: row.6
                    )
                )
            }
            return entries
        }
    }
}
