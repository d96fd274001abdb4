import Foundation
import GRDB
import VerdictCore
import VerdictSources
import VerdictStore

/// The feed index in `verdict.sqlite`: one row per (value, feed), clustered by value, so a lookup is a few
/// B-tree probes whatever the index holds, and a sync replaces a feed's rows in one transaction (readers in
/// other processes keep seeing the old rows until it commits: WAL).
public final class SQLiteFeedStore: FeedStore {
    let writer: any DatabaseWriter

    public init(database: VerdictDatabase) {
        self.writer = database.writer
    }

    public func entries(matching values: [String]) async throws -> [FeedMatch] {
        guard !values.isEmpty else { return [] }
        let rows = try await writer.read { db -> [[String?]] in
            let marks = Array(repeating: "?", count: values.count).joined(separator: ",")
            // One statement per number of keys (33 for an IPv4 address), prepared once per connection.
            let statement = try db.cachedStatement(
                sql: """
                    SELECT e.value, e.feed, e.kind, e.tags, e.link, e.first_seen, e.last_seen, s.verdict
                    FROM feed_entry e JOIN feed_state s ON s.name = e.feed WHERE e.value IN (\(marks))
                    """
            )
            return try Row.fetchAll(statement, arguments: StatementArguments(values)).map { row in
                (0..<8).map { Self.text(row[$0]) }
            }
        }
        return rows.compactMap(FeedRow.match)
    }

    public func apply(_ change: FeedIndexChange) async throws {
        try await writer.write { db in
            for name in change.removed {
                try db.execute(sql: "DELETE FROM feed_entry WHERE feed = ?", arguments: [name])
                try db.execute(sql: "DELETE FROM feed_state WHERE name = ?", arguments: [name])
            }
            for (state, entries) in change.replaced {
                try db.execute(sql: "DELETE FROM feed_entry WHERE feed = ?", arguments: [state.name])
                let insert = try db.makeStatement(
                    sql: """
                        INSERT OR REPLACE INTO feed_entry (value, feed, kind, tags, link, first_seen, last_seen)
                        VALUES (?, ?, ?, ?, ?, ?, ?)
                        """
                )
                // In key order the clustered index is appended to, not split: a million rows in seconds.
                for entry in entries.sorted(by: { $0.value < $1.value }) {
                    try insert.execute(arguments: [
                        entry.value, state.name, entry.kind.rawValue, FeedRow.tags(entry.tags), entry.link,
                        entry.firstSeen, entry.lastSeen,
                    ])
                }
                var counted = state
                counted.networkPrefixes = NetworkPrefixes(of: entries)
                counted.entryCount =
                    try Int.fetchOne(db, sql: "SELECT count(*) FROM feed_entry WHERE feed = ?", arguments: [state.name])
                    ?? 0
                try Self.save(counted, db)
            }
            if let fingerprint = change.directoryFingerprint {
                try db.execute(
                    sql: "INSERT OR REPLACE INTO feed_meta (key, value) VALUES ('directory_fingerprint', ?)",
                    arguments: [fingerprint]
                )
            }
        }
    }

    public func record(_ state: FeedState) async throws {
        try await writer.write { db in try Self.save(state, db) }
    }

    static func save(_ state: FeedState, _ db: Database) throws {
        try db.execute(
            sql: """
                INSERT OR REPLACE INTO feed_state
                    (name, origin, location, format, verdict, entries, synced_at, checked_at, last_error, etag,
                     last_modified, digest, network_prefixes)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                state.name, state.origin.rawValue, state.location, state.format, state.verdict.rawValue,
                state.entryCount, state.syncedAt, state.checkedAt, state.lastError, state.etag, state.lastModified,
                state.digest, state.networkPrefixes?.text,
            ]
        )
    }

    public func states() async throws -> [FeedState] {
        let rows = try await writer.read { db -> [[String?]] in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT name, origin, location, format, verdict, entries, synced_at, checked_at, last_error, etag,
                           last_modified, digest, network_prefixes
                    FROM feed_state ORDER BY name
                    """
            ).map { row in (0..<13).map { Self.text(row[$0]) } }
        }
        return rows.compactMap(FeedRow.state)
    }

    /// A column as text, for `FeedRow`'s decoders.
    static func text(_ value: DatabaseValue) -> String? {
        switch value.storage {
        case .null: nil
        case .int64(let number): String(number)
        case .double(let number): String(number)
        case .string(let text): text
        case .blob(let data): String(decoding: data, as: UTF8.self)
        }
    }

    public func directoryFingerprint() async throws -> String? {
        try await writer.read { db in
            try String.fetchOne(db, sql: "SELECT value FROM feed_meta WHERE key = 'directory_fingerprint'")
        }
    }

    public func forEachEntry(withVerdict verdict: Verdict, _ body: @escaping @Sendable (FeedMatch) throws -> Void)
        async throws
    {
        // Read on a thread of its own: a million rows go by, and the cursor must not hold the cooperative pool.
        try await runBlocking { [writer] in
            try writer.read { db in
                let cursor = try Row.fetchCursor(
                    db,
                    sql: """
                        SELECT e.value, e.feed, e.kind, e.tags, e.link, e.first_seen, e.last_seen, s.verdict
                        FROM feed_entry e JOIN feed_state s ON s.name = e.feed WHERE s.verdict = ?
                        """,
                    arguments: [verdict.rawValue]
                )
                while let row = try cursor.next() {
                    if let match = FeedRow.match((0..<8).map { Self.text(row[$0]) }) { try body(match) }
                }
            }
        }
    }

    public func claimSync(of feed: String, now: Double, dueBefore: Double) async throws -> Bool {
        try await writer.write { db in
            try db.execute(
                sql: "INSERT OR IGNORE INTO feed_sync_claim (name, claimed_at) VALUES (?, 0)",
                arguments: [feed]
            )
            try db.execute(
                sql: "UPDATE feed_sync_claim SET claimed_at = ? WHERE name = ? AND claimed_at < ?",
                arguments: [now, feed, dueBefore]
            )
            return db.changesCount == 1
        }
    }
}
