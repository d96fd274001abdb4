import Foundation
import GRDB
import VerdictStore

#if canImport(Glibc)
import Glibc
#endif

/// The SQLite file every part of Verdict shares (`verdict.sqlite` in the data directory): answers, API keys,
/// credits. One pool per file per process (GRDB's rule), in WAL mode so the server, the tail daemon and
/// per-alert processes can use it at once.
public struct VerdictDatabase: Sendable {
    public let writer: any DatabaseWriter
    /// Where the file is, for messages; nil for an in-memory database.
    public let path: String?

    /// Opens (and creates) `verdict.sqlite` in `directory`, and brings its tables up to date.
    ///
    /// - Parameters:
    ///   - singleConnection: one connection instead of a pool, for a process that lives for one alert (a
    ///     pool's reader connections cost more to open than that process ever uses them). The file stays in
    ///     WAL mode either way, so both kinds of process share it.
    public init(directory: String, singleConnection: Bool = false) throws {
        try self.init(file: directory + "/verdict.sqlite", singleConnection: singleConnection)
    }

    /// `init(directory:singleConnection:)` on a thread of its own: opening waits on a file lock and may run
    /// migrations, which must not hold a thread of the cooperative pool.
    public static func open(directory: String, singleConnection: Bool = false) async throws -> VerdictDatabase {
        try await runBlocking { try VerdictDatabase(directory: directory, singleConnection: singleConnection) }
    }

    /// `init(file:singleConnection:)` on a thread of its own.
    public static func open(file path: String, singleConnection: Bool = false) async throws -> VerdictDatabase {
        try await runBlocking { try VerdictDatabase(file: path, singleConnection: singleConnection) }
    }

    /// Opens (and creates) the SQLite file at `path` and its directory, and brings its tables up to date.
    public init(file path: String, singleConnection: Bool = false) throws {
        let directory = (path as NSString).deletingLastPathComponent
        do {
            // Keys' prefixes and every lookup are in there: a new data directory is its user's alone.
            try FileManager.default.createDirectory(
                atPath: directory.isEmpty ? "." : directory,
                withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700]
            )
        } catch {
            throw StoreError(
                "cannot create the data directory \(directory) (\(error.localizedDescription)); set VERDICT_DATA_DIR to a writable directory"
            )
        }
        for file in [path, path + "-wal", path + "-shm"] where !PrivateFile.isAbsentOrRegular(file) {
            throw StoreError(
                "\(file) is a symbolic link or not a regular file; Verdict will not open a database through it. Remove it (the data directory should be writable only by Verdict's user and group)"
            )
        }
        // Created here, not by SQLite, so that it is never made through a link and gets its mode; SQLite gives
        // the WAL and shared-memory files the database file's mode.
        try Self.prepareFile(path, folder: directory.isEmpty ? "." : directory)
        var configuration = Configuration()
        // Other processes may hold the write lock for a moment; wait rather than fail, up to about 5 s. SQLite's
        // own timeout sleeps ever longer (up to 100 ms at a time), which made the slowest of 20 processes
        // taking a source's window wait a third of a second; retrying every half millisecond keeps it short.
        configuration.busyMode = .callback { tries in
            guard tries < 10_000 else { return false }
            usleep(500)
            return true
        }
        let writer: any DatabaseWriter
        do {
            if singleConnection {
                configuration.prepareDatabase { db in
                    // Persistent in the file: the servers' pools and these processes all use WAL.
                    if try String.fetchOne(db, sql: "PRAGMA journal_mode") != "wal" {
                        try db.execute(sql: "PRAGMA journal_mode = WAL")
                    }
                }
                writer = try DatabaseQueue(path: path, configuration: configuration)
            } else {
                writer = try DatabasePool(path: path, configuration: configuration)
            }
        } catch {
            throw Self.explain(error, file: path, doing: "open")
        }
        try self.init(writer: writer, path: path)
    }

    /// Uses an open database (tests pass `DatabaseQueue()`), and brings its tables up to date.
    public init(writer: any DatabaseWriter, path: String? = nil) throws {
        self.writer = writer
        self.path = path
        let migrator = Self.migrator
        do {
            // Processes started together on a new file (custom-verdict runs, a server) would each see the
            // tables missing and create them twice: check and migrate one at a time, under a lock file
            // beside the database (a few microseconds when there is nothing to do).
            let migrateIfNeeded = {
                guard try !writer.read({ try migrator.hasCompletedMigrations($0) }) else { return }
                try migrator.migrate(writer)
            }
            if let path {
                try Self.whileLocking(path + ".lock", migrateIfNeeded)
            } else {
                try migrateIfNeeded()
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw Self.explain(error, file: path ?? "the database", doing: "prepare the tables in")
        }
    }

    /// Creates `path` if absent (never through a link) and shares it like its folder (`PrivateFile.share`),
    /// with the WAL and shared-memory files beside it. SQLite gives those the database file's mode, and when run
    /// as root their owner too, so the file made here decides who can use the store.
    static func prepareFile(_ path: String, folder: String) throws {
        let descriptor = PrivateFile.open(path, O_RDWR | O_CREAT, mode: 0o600)
        guard descriptor >= 0 else {
            throw StoreError(
                "cannot open \(path): \(PrivateFile.reason(errno)); check the data directory and its permissions, or set VERDICT_DATA_DIR"
            )
        }
        defer { close(descriptor) }
        PrivateFile.share(descriptor, likeFolder: folder)
        for companion in [path + "-wal", path + "-shm"] {
            let existing = PrivateFile.open(companion, O_RDWR)
            guard existing >= 0 else { continue }
            PrivateFile.share(existing, likeFolder: folder)
            close(existing)
        }
    }

    /// What went wrong with the file, and what to do: a damaged file is moved aside, a read-only one given back.
    static func explain(_ error: any Error, file: String, doing action: String) -> StoreError {
        if let code = (error as? DatabaseError)?.resultCode {
            switch code {
            case .SQLITE_NOTADB, .SQLITE_CORRUPT:
                return StoreError(
                    "\(file) is not a readable Verdict database (\(code)); move it aside (mv \(file) \(file).broken, with its -wal and -shm files) and Verdict starts a new one: answers are asked again and the source budgets start over"
                )
            case .SQLITE_READONLY, .SQLITE_CANTOPEN, .SQLITE_PERM, .SQLITE_AUTH:
                return StoreError(
                    "cannot write \(file) (\(code)): the file or its folder is read-only for this user (uid \(geteuid())); give the data directory and its files to Verdict's user and group (chown, chmod 0660), or set VERDICT_DATA_DIR"
                )
            default:
                break
            }
        }
        return StoreError("cannot \(action) \(file) (\(error)); check the file's permissions or set VERDICT_DATA_DIR")
    }

    /// Runs `body` holding an exclusive `flock` on `lockPath` (created if needed).
    static func whileLocking(_ lockPath: String, _ body: () throws -> Void) throws {
        let descriptor = PrivateFile.open(lockPath, O_RDWR | O_CREAT, mode: 0o600)
        guard descriptor >= 0 else {
            throw StoreError(
                "cannot create \(lockPath): \(PrivateFile.reason(errno)); check the data directory and its permissions"
            )
        }
        defer { close(descriptor) }
        let folder = (lockPath as NSString).deletingLastPathComponent
        PrivateFile.share(descriptor, likeFolder: folder.isEmpty ? "." : folder)
        while flock(descriptor, LOCK_EX) != 0 {
            guard errno == EINTR else { throw StoreError("cannot lock \(lockPath) (errno \(errno))") }
        }
        defer { flock(descriptor, LOCK_UN) }
        try body()
    }

    /// Whether the file answers a query now (`/v1/ready`).
    public func isReachable() async -> Bool {
        (try? await writer.read { db in try Int.fetchOne(db, sql: "SELECT 1") }) == 1
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("answers v1") { db in
            try db.create(table: "answer") { table in
                table.column("source", .text).notNull()
                table.column("type", .text).notNull()
                table.column("value", .text).notNull()
                table.column("fingerprint", .text).notNull()
                table.column("result", .blob).notNull()
                table.column("stored_at", .double).notNull()
                table.column("expires_at", .double).notNull()
                table.primaryKey(["source", "type", "value", "fingerprint"])
            }
            try db.create(index: "answer_expiry", on: "answer", columns: ["expires_at"])
        }
        migrator.registerMigration("accounts v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE api_key (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        name TEXT NOT NULL,
                        prefix TEXT NOT NULL,
                        hash BLOB NOT NULL,
                        plan TEXT NOT NULL,
                        monthly_credits INTEGER,
                        created_at DOUBLE NOT NULL,
                        revoked_at DOUBLE
                    );
                    CREATE UNIQUE INDEX api_key_active_name ON api_key(name) WHERE revoked_at IS NULL;
                    CREATE INDEX api_key_prefix ON api_key(prefix);
                    CREATE TABLE key_usage (
                        key_id INTEGER NOT NULL REFERENCES api_key(id),
                        month TEXT NOT NULL,
                        credits_used INTEGER NOT NULL DEFAULT 0,
                        requests INTEGER NOT NULL DEFAULT 0,
                        lookups INTEGER NOT NULL DEFAULT 0,
                        cache_hits INTEGER NOT NULL DEFAULT 0,
                        upstream_lookups INTEGER NOT NULL DEFAULT 0,
                        suppressed INTEGER NOT NULL DEFAULT 0,
                        PRIMARY KEY (key_id, month)
                    );
                    CREATE TABLE credit_reservation (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        key_id INTEGER NOT NULL REFERENCES api_key(id),
                        month TEXT NOT NULL,
                        amount INTEGER NOT NULL,
                        created_at DOUBLE NOT NULL
                    );
                    CREATE TABLE credit_ledger (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        key_id INTEGER NOT NULL REFERENCES api_key(id),
                        month TEXT NOT NULL,
                        request_id TEXT NOT NULL,
                        credits INTEGER NOT NULL,
                        at DOUBLE NOT NULL
                    );
                    """
            )
        }
        // What each key has looked up itself, and when: with server.share_cache_between_keys off, a key sees
        // only its own lookups as cached.
        migrator.registerMigration("key lookups v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE key_lookup (
                        key_id INTEGER NOT NULL REFERENCES api_key(id),
                        type TEXT NOT NULL,
                        value TEXT NOT NULL,
                        first_at DOUBLE NOT NULL,
                        PRIMARY KEY (key_id, type, value)
                    ) WITHOUT ROWID;
                    """
            )
        }
        // The outside sources' budgets, shared by every process on the store (SourceBudgetStore).
        migrator.registerMigration("source budgets v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE source_budget (
                        source TEXT NOT NULL,
                        fingerprint TEXT NOT NULL,
                        blocked_until DOUBLE NOT NULL DEFAULT 0,
                        failures INTEGER NOT NULL DEFAULT 0,
                        open_until DOUBLE NOT NULL DEFAULT 0,
                        probe_lease_until DOUBLE NOT NULL DEFAULT 0,
                        provider_limit INTEGER,
                        provider_remaining INTEGER,
                        provider_resets_at DOUBLE,
                        PRIMARY KEY (source, fingerprint)
                    ) WITHOUT ROWID;
                    CREATE TABLE source_window (
                        source TEXT NOT NULL,
                        fingerprint TEXT NOT NULL,
                        seconds INTEGER NOT NULL,
                        window_start INTEGER NOT NULL,
                        used INTEGER NOT NULL,
                        PRIMARY KEY (source, fingerprint, seconds)
                    ) WITHOUT ROWID;
                    """
            )
        }
        // Alerts that got no answer in time, and how many were dropped (RetryQueueStore).
        migrator.registerMigration("retry queue v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE deferred_alert (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        alert BLOB NOT NULL,
                        options BLOB,
                        home TEXT NOT NULL,
                        pending TEXT,
                        reason TEXT NOT NULL,
                        deferred_at DOUBLE NOT NULL,
                        attempts INTEGER NOT NULL DEFAULT 0,
                        claimed_until DOUBLE NOT NULL DEFAULT 0
                    );
                    CREATE INDEX deferred_alert_age ON deferred_alert(deferred_at);
                    CREATE TABLE retry_counter (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
                    """
            )
        }
        // Requests per key, added up by every process, so the per-key rate limit is one for all of them.
        migrator.registerMigration("key requests v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE key_request (
                        key_id INTEGER NOT NULL, window_start INTEGER NOT NULL, total INTEGER NOT NULL,
                        PRIMARY KEY (key_id, window_start)
                    ) WITHOUT ROWID
                    """
            )
        }
        // Which reservation each charge settled, so that settling again changes nothing.
        migrator.registerMigration("ledger reservations v1") { db in
            try db.execute(
                sql: """
                    ALTER TABLE credit_ledger ADD COLUMN reservation_id INTEGER;
                    CREATE UNIQUE INDEX credit_ledger_reservation ON credit_ledger(reservation_id)
                        WHERE reservation_id IS NOT NULL;
                    """
            )
        }
        // The compiled feed index (FeedStore) and the analysts' overrides (OverrideStore).
        migrator.registerMigration("feeds and overrides v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE feed_entry (
                        value TEXT NOT NULL, feed TEXT NOT NULL, kind TEXT NOT NULL, tags TEXT, link TEXT,
                        first_seen DOUBLE, last_seen DOUBLE,
                        PRIMARY KEY (value, feed)
                    ) WITHOUT ROWID;
                    CREATE TABLE feed_state (
                        name TEXT PRIMARY KEY, origin TEXT NOT NULL, location TEXT NOT NULL, format TEXT NOT NULL,
                        verdict TEXT NOT NULL, entries INTEGER NOT NULL, synced_at DOUBLE, checked_at DOUBLE,
                        last_error TEXT, etag TEXT, last_modified TEXT, digest TEXT
                    );
                    CREATE TABLE feed_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
                    CREATE TABLE feed_sync_claim (name TEXT PRIMARY KEY, claimed_at DOUBLE NOT NULL) WITHOUT ROWID;
                    CREATE TABLE analyst_override (
                        type TEXT NOT NULL, value TEXT NOT NULL, verdict TEXT NOT NULL, reason TEXT,
                        author TEXT NOT NULL, created_at DOUBLE NOT NULL, expires_at DOUBLE,
                        PRIMARY KEY (type, value)
                    ) WITHOUT ROWID;
                    """
            )
        }
        // Each feed's network prefix lengths (NetworkPrefixes); NULL for feeds indexed before, which are then
        // asked under every length until their next sync.
        migrator.registerMigration("feed network prefixes v1") { db in
            try db.execute(sql: "ALTER TABLE feed_state ADD COLUMN network_prefixes TEXT")
        }
        // Each key's recent lookups, for the console (LookupHistoryStore).
        migrator.registerMigration("lookup history v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE lookup_history (
                        id INTEGER PRIMARY KEY AUTOINCREMENT, key_id INTEGER NOT NULL, at DOUBLE NOT NULL,
                        indicators TEXT NOT NULL, verdict TEXT NOT NULL, credits_charged INTEGER NOT NULL,
                        results TEXT NOT NULL
                    );
                    CREATE INDEX lookup_history_key ON lookup_history (key_id, at);
                    """
            )
        }
        return migrator
    }
}
