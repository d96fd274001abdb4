import PostgresNIO
import VerdictCore
import VerdictEngine
import VerdictSources
import VerdictStore

/// The answer cache in PostgreSQL: what one replica or node learns, the others read (behind each process's
/// memory LRU, so a cached lookup costs no round trip).
public final class PostgresLookupCache: LookupCache {
    let database: PostgresDatabase
    /// A read that fails is a miss and a write that fails is lost: both counted and logged, since every miss
    /// sends the lookup upstream.
    let health: StoreHealth

    public init(database: PostgresDatabase, health: StoreHealth) {
        self.database = database
        self.health = health
    }

    public func answer(for key: CacheKey) async -> CachedAnswer? {
        let stored: (String, Double, Double)?
        do {
            stored = try await database.withConnection("read an answer from") { connection in
                let rows = try await connection.query(
                    """
                    SELECT result, stored_at, expires_at FROM answer
                    WHERE source = \(key.source) AND type = \(key.indicator.type.rawValue)
                      AND value = \(key.indicator.value) AND fingerprint = \(key.fingerprint)
                    """,
                    logger: PostgresDatabase.quiet
                )
                for try await row in rows.decode((String, Double, Double).self) { return row }
                return nil
            }
        } catch {
            health.record(.cache, "cannot read an answer of \(key.source): \(error)")
            return nil
        }
        guard let (text, storedAt, expiresAt) = stored, let result = try? StoredResult.decode(Array(text.utf8)) else {
            return nil
        }
        return CachedAnswer(result: result, storedAt: storedAt, expiresAt: expiresAt)
    }

    /// Committed without waiting for the disk: a PostgreSQL crash can lose the last fraction of a second of
    /// answers, which only means asking their sources again.
    public func store(_ answer: CachedAnswer, for key: CacheKey) async {
        let text = String(decoding: StoredResult.encode(answer.result), as: UTF8.self)
        do {
            try await database.withConnection("keep an answer in") { connection in
                try await connection.query(
                    """
                    INSERT INTO answer (source, type, value, fingerprint, result, stored_at, expires_at)
                    SELECT \(key.source), \(key.indicator.type.rawValue), \(key.indicator.value), \(key.fingerprint),
                           \(text), \(answer.storedAt), \(answer.expiresAt)
                    WHERE \(unescaped: PostgresDatabase.commitWithoutWaitingForDisk)
                    ON CONFLICT (source, type, value, fingerprint) DO UPDATE SET
                        result = excluded.result, stored_at = excluded.stored_at, expires_at = excluded.expires_at
                    """,
                    logger: PostgresDatabase.quiet
                )
            }
        } catch {
            health.record(.cache, "cannot keep an answer of \(key.source): \(error)")
        }
    }

    public func freshAnswers(at time: Double) async throws -> [(key: CacheKey, answer: CachedAnswer)] {
        try await database.withConnection("read the cache in", within: .seconds(120)) { connection in
            let rows = try await connection.query(
                """
                SELECT source, type, value, fingerprint, result, stored_at, expires_at FROM answer
                WHERE expires_at > \(time)
                """,
                logger: PostgresDatabase.quiet
            )
            var answers: [(key: CacheKey, answer: CachedAnswer)] = []
            for try await row in rows.decode((String, String, String, String, String, Double, Double).self) {
                guard let type = IndicatorType(rawValue: row.1),
                    let result = try? StoredResult.decode(Array(row.4.utf8))
                else { continue }
                answers.append(
                    (
                        CacheKey(source: row.0, indicator: Indicator(type: type, value: row.2), fingerprint: row.3),
                        CachedAnswer(result: result, storedAt: row.5, expiresAt: row.6)
                    )
                )
            }
            return answers
        }
    }
}
