import Foundation
import GRDB
import VerdictCore
import VerdictEngine
import VerdictStore

/// The retry queue in `verdict.sqlite` (table `deferred_alert`), shared by every process on the data directory.
public final class SQLiteRetryQueue: RetryQueueStore {
    let writer: any DatabaseWriter

    public init(database: VerdictDatabase) {
        self.writer = database.writer
    }

    public func enqueue(_ alert: DeferredAlert, limits: RetrySettings, at time: Double) async throws
        -> (queued: Int, dropped: Int)
    {
        let pending = alert.pending.map { Self.encode($0) }
        return try await writer.write { db in
            try db.execute(
                sql: """
                    INSERT INTO deferred_alert (alert, options, home, pending, reason, deferred_at, attempts, claimed_until)
                    VALUES (?, ?, ?, ?, ?, ?, ?, 0)
                    """,
                arguments: [
                    Data(alert.alert), alert.options.map { Data($0) }, alert.home, pending, alert.reason,
                    alert.deferredAt, alert.attempts,
                ]
            )
            try db.execute(
                sql: "DELETE FROM deferred_alert WHERE deferred_at < ?",
                arguments: [time - limits.maxAgeSeconds]
            )
            var dropped = db.changesCount
            try db.execute(
                sql: """
                    DELETE FROM deferred_alert WHERE id NOT IN
                        (SELECT id FROM deferred_alert ORDER BY id DESC LIMIT ?)
                    """,
                arguments: [limits.maxAlerts]
            )
            dropped += db.changesCount
            if dropped > 0 {
                try db.execute(
                    sql: """
                        INSERT INTO retry_counter (name, value) VALUES ('dropped', ?)
                        ON CONFLICT (name) DO UPDATE SET value = value + excluded.value
                        """,
                    arguments: [dropped]
                )
            }
            let queued = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM deferred_alert") ?? 0
            return (queued, dropped)
        }
    }

    public func claim(limit: Int, lease: Double, at time: Double) async throws -> [DeferredAlert] {
        guard limit > 0 else { return [] }
        return try await writer.write { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT id, alert, options, home, pending, reason, deferred_at, attempts FROM deferred_alert
                    WHERE claimed_until < ? ORDER BY id LIMIT ?
                    """,
                arguments: [time, limit]
            )
            let claimed = rows.map { row in
                DeferredAlert(
                    id: row["id"],
                    alert: Array(row["alert"] as Data),
                    options: (row["options"] as Data?).map { Array($0) },
                    home: row["home"],
                    pending: (row["pending"] as String?).map(Self.decode),
                    reason: row["reason"],
                    deferredAt: row["deferred_at"],
                    attempts: row["attempts"]
                )
            }
            for alert in claimed {
                try db.execute(
                    sql: "UPDATE deferred_alert SET claimed_until = ? WHERE id = ?",
                    arguments: [time + lease, alert.id]
                )
            }
            return claimed
        }
    }

    public func finish(_ id: Int64) async throws {
        try await writer.write { db in
            try db.execute(sql: "DELETE FROM deferred_alert WHERE id = ?", arguments: [id])
        }
    }

    public func giveBack(_ id: Int64, pending: [String]?, reason: String, countsAsTry: Bool) async throws {
        let encoded = pending.map { Self.encode($0) }
        try await writer.write { db in
            try db.execute(
                sql: """
                    UPDATE deferred_alert SET pending = ?, reason = ?, attempts = attempts + ?, claimed_until = 0
                    WHERE id = ?
                    """,
                arguments: [encoded, reason, countsAsTry ? 1 : 0, id]
            )
        }
    }

    public func summary() async throws -> RetryQueueSummary {
        try await writer.read { db in
            let queued = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM deferred_alert") ?? 0
            let oldest = try Double.fetchOne(db, sql: "SELECT MIN(deferred_at) FROM deferred_alert")
            let dropped = try Int.fetchOne(db, sql: "SELECT value FROM retry_counter WHERE name = 'dropped'") ?? 0
            let reasons = try Row.fetchAll(
                db,
                sql: """
                    SELECT reason, COUNT(*) AS count FROM deferred_alert GROUP BY reason ORDER BY count DESC, reason
                    """
            ).map { (reason: $0["reason"] as String, count: $0["count"] as Int) }
            return RetryQueueSummary(queued: queued, oldestAt: oldest, dropped: dropped, reasons: reasons)
        }
    }

    /// Pending values as one line each (indicator values never hold a new line).
    static func encode(_ values: [String]) -> String { values.joined(separator: "\n") }
    static func decode(_ text: String) -> [String] { text.isEmpty ? [] : text.components(separatedBy: "\n") }
}
