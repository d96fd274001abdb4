import Foundation
import GRDB

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
        // Other processes may hold the write lock for a moment; wait rather than fail.
        configuration.busyMode = .timeout(5)
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
            throw StoreError("cannot open \(path) (\(error)); check the file's permissions or set VERDICT_DATA_DIR")
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
            throw StoreError("cannot prepare the tables in \(path ?? "the database") (\(error))")
        }
    }

    /// The mode of the store's files: the user's alone (0600), or the group's too (0660) in a folder the
    /// group may write, as a Wazuh home's `var/verdict` (0770, the `wazuh` group) is.
    static func fileMode(inFolder folder: String) -> mode_t {
        var status = stat()
        guard stat(folder, &status) == 0 else { return 0o600 }
        return status.st_mode & S_IWGRP != 0 ? 0o660 : 0o600
    }

    /// Creates `path` if absent (never through a link) and sets its mode, tightening a file left readable by
    /// others. A file owned by another user keeps its mode (only its owner could change it).
    static func prepareFile(_ path: String, folder: String) throws {
        let descriptor = PrivateFile.open(path, O_RDWR | O_CREAT, mode: 0o600)
        guard descriptor >= 0 else {
            throw StoreError(
                "cannot open \(path): \(PrivateFile.reason(errno)); check the data directory and its permissions, or set VERDICT_DATA_DIR"
            )
        }
        defer { close(descriptor) }
        let mode = fileMode(inFolder: folder)
        var status = stat()
        if fstat(descriptor, &status) == 0, status.st_uid == geteuid() { fchmod(descriptor, mode) }
        for companion in [path + "-wal", path + "-shm"] {
            if lstat(companion, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG, status.st_uid == geteuid() {
                chmod(companion, mode)
            }
        }
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
        var status = stat()
        if fstat(descriptor, &status) == 0, status.st_uid == geteuid() {
            fchmod(descriptor, fileMode(inFolder: (lockPath as NSString).deletingLastPathComponent))
        }
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
        return migrator
    }
}
