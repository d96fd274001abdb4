import PostgresNIO
import VerdictCore
import VerdictEngine
import VerdictStore

/// The analysts' overrides in PostgreSQL.
public final class PostgresOverrideStore: OverrideStore {
    let database: PostgresDatabase

    public init(database: PostgresDatabase) {
        self.database = database
    }

    public func put(_ override: AnalystOverride) async throws {
        try await database.withConnection("keep an override in") { connection in
            try await connection.query(
                """
                INSERT INTO analyst_override (type, value, verdict, reason, author, created_at, expires_at)
                VALUES (\(override.indicator.type.rawValue), \(override.indicator.value), \(override.verdict.rawValue),
                        \(override.reason), \(override.author), \(override.createdAt), \(override.expiresAt))
                ON CONFLICT (type, value) DO UPDATE SET verdict = excluded.verdict, reason = excluded.reason,
                    author = excluded.author, created_at = excluded.created_at, expires_at = excluded.expires_at
                """,
                logger: PostgresDatabase.quiet
            )
        }
    }

    public func remove(_ indicator: Indicator) async throws -> Bool {
        try await database.withConnection("remove an override in") { connection in
            let rows = try await connection.query(
                """
                DELETE FROM analyst_override WHERE type = \(indicator.type.rawValue) AND value = \(indicator.value)
                RETURNING value
                """,
                logger: PostgresDatabase.quiet
            )
            for try await _ in rows { return true }
            return false
        }
    }

    public func active(at time: Double) async throws -> [AnalystOverride] {
        try await database.withConnection("read the overrides in") { connection in
            let rows = try await connection.query(
                """
                SELECT type, value, verdict, reason, author, created_at, expires_at FROM analyst_override
                WHERE expires_at IS NULL OR expires_at > \(time) ORDER BY created_at, type, value
                """,
                logger: PostgresDatabase.quiet
            )
            var overrides: [AnalystOverride] = []
            for try await row in rows.decode((String, String, String, String?, String, Double, Double?).self) {
                let stored = OverrideRow(
                    type: row.0,
                    value: row.1,
                    verdict: row.2,
                    reason: row.3,
                    author: row.4,
                    createdAt: row.5,
                    expiresAt: row.6
                )
                if let override = stored.override { overrides.append(override) }
            }
            return overrides
        }
    }
}
