import GRDB
import VerdictStore

/// The keys' recent lookups in `verdict.sqlite`.
public final class SQLiteLookupHistoryStore: LookupHistoryStore {
    let writer: any DatabaseWriter

    public init(database: VerdictDatabase) {
        self.writer = database.writer
    }

    public func record(_ entry: LookupHistoryEntry, keep: Int, notBefore: Double) async throws -> Int64 {
        try await writer.write { db in
            try db.execute(
                sql: """
                    INSERT INTO lookup_history (key_id, at, indicators, verdict, credits_charged, results)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    entry.keyID, entry.at, entry.indicators.joined(separator: "\n"), entry.verdict,
                    entry.creditsCharged, entry.results,
                ]
            )
            let id = db.lastInsertedRowID
            try db.execute(
                sql: """
                    DELETE FROM lookup_history WHERE key_id = ? AND (at < ? OR id NOT IN (
                        SELECT id FROM lookup_history WHERE key_id = ? ORDER BY at DESC, id DESC LIMIT ?))
                    """,
                arguments: [entry.keyID, notBefore, entry.keyID, keep]
            )
            return id
        }
    }

    public func recent(keyID: Int64, limit: Int, notBefore: Double) async throws -> [LookupHistoryEntry] {
        try await writer.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT id, key_id, at, indicators, verdict, credits_charged, results FROM lookup_history
                    WHERE key_id = ? AND at >= ? ORDER BY at DESC, id DESC LIMIT ?
                    """,
                arguments: [keyID, notBefore, limit]
            ).map { row in
                LookupHistoryEntry(
                    id: row["id"],
                    keyID: row["key_id"],
                    at: row["at"],
                    indicators: (row["indicators"] as String).split(separator: "\n").map(String.init),
                    verdict: row["verdict"],
                    creditsCharged: row["credits_charged"],
                    results: row["results"]
                )
            }
        }
    }
}
