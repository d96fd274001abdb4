import Foundation
import PostgresNIO
import VerdictCore
import VerdictSources
import VerdictStore

/// The feed index in PostgreSQL: every replica and manager node reads the same compiled feeds.
public final class PostgresFeedStore: FeedStore {
    let database: PostgresDatabase
    /// A sync writes a whole feed in one transaction: far longer than one lookup's call may take.
    static let syncTimeout: Duration = .seconds(900)
    /// Rows sent in one INSERT (as arrays, one parameter a column).
    static let batch = 20_000

    public init(database: PostgresDatabase) {
        self.database = database
    }

    public func entries(matching values: [String]) async throws -> [FeedMatch] {
        guard !values.isEmpty else { return [] }
        return try await database.withConnection("read the feed index in") { connection in
            let rows = try await connection.query(
                """
                SELECT e.value, e.feed, e.kind, e.tags, e.link, e.first_seen::text, e.last_seen::text, s.verdict
                FROM feed_entry e JOIN feed_state s ON s.name = e.feed WHERE e.value = ANY(\(values))
                """,
                logger: PostgresDatabase.quiet
            )
            var matches: [FeedMatch] = []
            for try await row in rows.decode((String, String, String, String?, String?, String?, String?, String).self)
            {
                if let match = FeedRow.match([row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7]) {
                    matches.append(match)
                }
            }
            return matches
        }
    }

    public func apply(_ change: FeedIndexChange) async throws {
        try await database.transaction("update the feed index in", within: Self.syncTimeout) { connection in
            for name in change.removed {
                try await connection.query(
                    "DELETE FROM feed_entry WHERE feed = \(name)",
                    logger: PostgresDatabase.quiet
                )
                try await connection.query(
                    "DELETE FROM feed_state WHERE name = \(name)",
                    logger: PostgresDatabase.quiet
                )
            }
            for (state, entries) in change.replaced {
                try await connection.query(
                    "DELETE FROM feed_entry WHERE feed = \(state.name)",
                    logger: PostgresDatabase.quiet
                )
                // One INSERT … ON CONFLICT may not touch a row twice: a feed listing a value twice keeps its last.
                var positions: [String: Int] = [:]
                for (position, entry) in entries.enumerated() { positions[entry.value] = position }
                let entries = positions.count == entries.count ? entries : positions.values.sorted().map { entries[$0] }
                var start = 0
                while start < entries.count {
                    let slice = entries[start..<min(entries.count, start + Self.batch)]
                    start += Self.batch
                    let values = slice.map(\.value)
                    let kinds = slice.map(\.kind.rawValue)
                    let tags = slice.map { FeedRow.tags($0.tags) }
                    let links = slice.map { $0.link ?? "" }
                    let first = slice.map { $0.firstSeen.map { String($0) } ?? "" }
                    let last = slice.map { $0.lastSeen.map { String($0) } ?? "" }
                    try await connection.query(
                        """
                        INSERT INTO feed_entry (value, feed, kind, tags, link, first_seen, last_seen)
                        SELECT v, \(state.name), k, t, NULLIF(l, ''), NULLIF(f, '')::double precision,
                               NULLIF(s, '')::double precision
                        FROM unnest(\(values)::text[], \(kinds)::text[], \(tags)::text[], \(links)::text[],
                                    \(first)::text[], \(last)::text[]) AS row (v, k, t, l, f, s)
                        ON CONFLICT (value, feed) DO UPDATE SET kind = excluded.kind, tags = excluded.tags,
                            link = excluded.link, first_seen = excluded.first_seen, last_seen = excluded.last_seen
                        """,
                        logger: PostgresDatabase.quiet
                    )
                }
                var counted = state
                counted.networkPrefixes = NetworkPrefixes(of: entries)
                let rows = try await connection.query(
                    "SELECT count(*)::bigint FROM feed_entry WHERE feed = \(state.name)",
                    logger: PostgresDatabase.quiet
                )
                for try await count in rows.decode(Int64.self) { counted.entryCount = Int(count) }
                try await Self.save(counted, connection)
            }
            if let fingerprint = change.directoryFingerprint {
                try await connection.query(
                    """
                    INSERT INTO feed_meta (key, value) VALUES ('directory_fingerprint', \(fingerprint))
                    ON CONFLICT (key) DO UPDATE SET value = excluded.value
                    """,
                    logger: PostgresDatabase.quiet
                )
            }
        }
    }

    public func record(_ state: FeedState) async throws {
        try await database.withConnection("record a feed's state in") { connection in
            try await Self.save(state, connection)
        }
    }

    static func save(_ state: FeedState, _ connection: PostgresConnection) async throws {
        try await connection.query(
            """
            INSERT INTO feed_state (name, origin, location, format, verdict, entries, synced_at, checked_at,
                                    last_error, etag, last_modified, digest, network_prefixes)
            VALUES (\(state.name), \(state.origin.rawValue), \(state.location), \(state.format),
                    \(state.verdict.rawValue), \(state.entryCount), \(state.syncedAt), \(state.checkedAt),
                    \(state.lastError), \(state.etag), \(state.lastModified), \(state.digest),
                    \(state.networkPrefixes?.text))
            ON CONFLICT (name) DO UPDATE SET origin = excluded.origin, location = excluded.location,
                format = excluded.format, verdict = excluded.verdict, entries = excluded.entries,
                synced_at = excluded.synced_at, checked_at = excluded.checked_at, last_error = excluded.last_error,
                etag = excluded.etag, last_modified = excluded.last_modified, digest = excluded.digest,
                network_prefixes = excluded.network_prefixes
            """,
            logger: PostgresDatabase.quiet
        )
    }

    public func states() async throws -> [FeedState] {
        try await database.withConnection("read the feeds' state in") { connection in
            let rows = try await connection.query(
                """
                SELECT name, origin, location, format, verdict, entries::text, synced_at::text, checked_at::text,
                       last_error, etag, last_modified, digest, network_prefixes
                FROM feed_state ORDER BY name
                """,
                logger: PostgresDatabase.quiet
            )
            var states: [FeedState] = []
            typealias Columns = (
                String?, String?, String?, String?, String?, String?, String?, String?, String?, String?, String?,
                String?, String?
            )
            for try await row in rows.decode(Columns.self) {
                let fields = [
                    row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7, row.8, row.9, row.10, row.11, row.12,
                ]
                if let state = FeedRow.state(fields) { states.append(state) }
            }
            return states
        }
    }

    public func directoryFingerprint() async throws -> String? {
        try await database.withConnection("read the feed index in") { connection in
            let rows = try await connection.query(
                "SELECT value FROM feed_meta WHERE key = 'directory_fingerprint'",
                logger: PostgresDatabase.quiet
            )
            for try await value in rows.decode(String.self) { return value }
            return nil
        }
    }

    public func forEachEntry(withVerdict verdict: Verdict, _ body: @escaping @Sendable (FeedMatch) throws -> Void)
        async throws
    {
        try await database.withConnection("read the feed index in", within: Self.syncTimeout) { connection in
            let rows = try await connection.query(
                """
                SELECT e.value, e.feed, e.kind, e.tags, e.link, e.first_seen::text, e.last_seen::text, s.verdict
                FROM feed_entry e JOIN feed_state s ON s.name = e.feed WHERE s.verdict = \(verdict.rawValue)
                """,
                logger: PostgresDatabase.quiet
            )
            for try await row in rows.decode((String, String, String, String?, String?, String?, String?, String).self)
            {
                if let match = FeedRow.match([row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7]) {
                    try body(match)
                }
            }
        }
    }

    public func claimSync(of feed: String, now: Double, dueBefore: Double) async throws -> Bool {
        try await database.withConnection("claim a feed's sync in") { connection in
            let rows = try await connection.query(
                """
                INSERT INTO feed_sync_claim (name, claimed_at) VALUES (\(feed), \(now))
                ON CONFLICT (name) DO UPDATE SET claimed_at = excluded.claimed_at
                WHERE feed_sync_claim.claimed_at < \(dueBefore)
                RETURNING name
                """,
                logger: PostgresDatabase.quiet
            )
            for try await _ in rows { return true }
            return false
        }
    }
}
