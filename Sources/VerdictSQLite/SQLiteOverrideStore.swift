import Foundation
import GRDB
import VerdictCore
import VerdictEngine
import VerdictStore

/// The analysts' overrides in `verdict.sqlite`.
public final class SQLiteOverrideStore: OverrideStore {
    let writer: any DatabaseWriter

    public init(database: VerdictDatabase) {
        self.writer = database.writer
    }

    public func put(_ override: AnalystOverride) async throws {
        try await writer.write { db in
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO analyst_override (type, value, verdict, reason, author, created_at, expires_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    override.indicator.type.rawValue, override.indicator.value, override.verdict.rawValue,
                    override.reason, override.author, override.createdAt, override.expiresAt,
                ]
            )
        }
    }

    public func remove(_ indicator: Indicator) async throws -> Bool {
        try await writer.write { db in
            try db.execute(
                sql: "DELETE FROM analyst_override WHERE type = ? AND value = ?",
                arguments: [indicator.type.rawValue, indicator.value]
            )
            return db.changesCount > 0
        }
    }

    public func active(at time: Double) async throws -> [AnalystOverride] {
        let rows = try await writer.read { db -> [OverrideRow] in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT type, value, verdict, reason, author, created_at, expires_at FROM analyst_override
                    WHERE expires_at IS NULL OR expires_at > ? ORDER BY created_at, type, value
                    """,
                arguments: [time]
            ).map { row in
                OverrideRow(
                    type: row["type"],
                    value: row["value"],
                    verdict: row["verdict"],
                    reason: row["reason"],
                    author: row["author"],
                    createdAt: row["created_at"],
                    expiresAt: row["expires_at"]
                )
            }
        }
        return rows.compactMap(\.override)
    }
}
