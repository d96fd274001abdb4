import Foundation
import GRDB
import VerdictCore
import VerdictEngine
import VerdictSources
import VerdictStore

/// The answer cache in SQLite (GRDB, WAL): the embedded default in `VERDICT_DATA_DIR`, safe when the
/// server, the tail daemon and per-alert processes share the file.
public final class SQLiteLookupCache: LookupCache {
    let writer: any DatabaseWriter
    /// A read that fails is a miss, and a write that fails is lost: both are counted and logged here, since
    /// every miss sends the lookup upstream.
    let health: StoreHealth

    /// Opens (and creates) `verdict.sqlite` in `directory`.
    ///
    /// - Parameters:
    ///   - singleConnection: for a process that lives for one alert (see `VerdictDatabase`).
    public convenience init(directory: String, singleConnection: Bool = false) throws {
        try self.init(database: VerdictDatabase(directory: directory, singleConnection: singleConnection))
    }

    /// Uses an open database (tests pass `DatabaseQueue()`).
    public convenience init(writer: any DatabaseWriter) throws {
        try self.init(database: VerdictDatabase(writer: writer))
    }

    /// Shares the process's one connection pool to the file with the other stores.
    public init(database: VerdictDatabase, health: StoreHealth = StoreHealth()) {
        self.writer = database.writer
        self.health = health
    }

    public func answer(for key: CacheKey) async -> CachedAnswer? {
        // Rows are not Sendable: read plain values, so GRDB's async (non-blocking) read is used.
        let stored: (Data, Double, Double)?
        do {
            stored = try await writer.read { db -> (Data, Double, Double)? in
                guard
                    let row = try Row.fetchOne(
                        db,
                        sql: """
                            SELECT result, stored_at, expires_at FROM answer
                            WHERE source = ? AND type = ? AND value = ? AND fingerprint = ?
                            """,
                        arguments: [key.source, key.indicator.type.rawValue, key.indicator.value, key.fingerprint]
                    )
                else { return nil }
                return (row["result"], row["stored_at"], row["expires_at"])
            }
        } catch {
            health.record(.cache, "cannot read an answer of \(key.source): \(error)")
            return nil
        }
        guard let (bytes, storedAt, expiresAt) = stored, let result = try? StoredResult.decode(Array(bytes)) else {
            return nil
        }
        return CachedAnswer(result: result, storedAt: storedAt, expiresAt: expiresAt)
    }

    public func store(_ answer: CachedAnswer, for key: CacheKey) async {
        let bytes = Data(StoredResult.encode(answer.result))
        do {
            try await writer.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO answer (source, type, value, fingerprint, result, stored_at, expires_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?)
                        ON CONFLICT (source, type, value, fingerprint)
                        DO UPDATE SET result = excluded.result, stored_at = excluded.stored_at, expires_at = excluded.expires_at
                        """,
                    arguments: [
                        key.source, key.indicator.type.rawValue, key.indicator.value, key.fingerprint, bytes,
                        answer.storedAt, answer.expiresAt,
                    ]
                )
            }
        } catch {
            health.record(.cache, "cannot keep an answer of \(key.source): \(error)")
        }
    }

    /// Deletes answers that expired before `time`; returns how many.
    @discardableResult
    public func removeExpired(before time: Double) async throws -> Int {
        try await writer.write { db in
            try db.execute(sql: "DELETE FROM answer WHERE expires_at < ?", arguments: [time])
            return db.changesCount
        }
    }

    public func count() async throws -> Int {
        try await writer.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM answer") ?? 0 }
    }

    public func freshAnswers(at time: Double) async throws -> [(key: CacheKey, answer: CachedAnswer)] {
        let rows = try await writer.read { db -> [(String, String, String, String, Data, Double, Double)] in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT source, type, value, fingerprint, result, stored_at, expires_at FROM answer
                    WHERE expires_at > ?
                    """,
                arguments: [time]
            ).map {
                (
                    $0["source"], $0["type"], $0["value"], $0["fingerprint"], $0["result"], $0["stored_at"],
                    $0["expires_at"]
                )
            }
        }
        return rows.compactMap { source, type, value, fingerprint, bytes, storedAt, expiresAt in
            guard let type = IndicatorType(rawValue: type), let result = try? StoredResult.decode(Array(bytes)) else {
                return nil
            }
            return (
                CacheKey(source: source, indicator: Indicator(type: type, value: value), fingerprint: fingerprint),
                CachedAnswer(result: result, storedAt: storedAt, expiresAt: expiresAt)
            )
        }
    }
}
