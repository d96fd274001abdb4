import Foundation
import Logging
import NIOCore
import NIOSSL
import PostgresNIO
import Synchronization
import VerdictSources
import VerdictStore

/// One PostgreSQL database shared by every replica and Wazuh node: a postgres-nio connection pool, its tables
/// brought up to date once (under an advisory lock, so processes starting together migrate one at a time), and
/// every call bounded in time, so a database that is down or restarting is an error, never a hang.
public final class PostgresDatabase: Sendable {
    public let settings: PostgresSettings
    let client: PostgresClient
    let running: Task<Void, Never>
    /// How long one call may wait for a connection and its answer.
    let callTimeout: Duration
    let connectionFailures: ConnectionFailureLog
    static let quiet = Logger(label: "verdict.postgres", factory: { _ in SwiftLogNoOpLogHandler() })

    /// Connects, and creates or updates the tables.
    ///
    /// - Parameters:
    ///   - singleConnection: at most one connection, for a process that lives for one alert.
    ///   - migrationTimeout: how long preparing the tables may take, waiting for another process's migration
    ///     included (a process per alert cannot wait long: it keeps the alert for later instead).
    public static func open(
        _ settings: PostgresSettings,
        singleConnection: Bool = false,
        callTimeout: Duration = .seconds(3),
        migrationTimeout: Duration = .seconds(30)
    ) async throws -> PostgresDatabase {
        let database = try PostgresDatabase(settings, singleConnection: singleConnection, callTimeout: callTimeout)
        do {
            try await database.prepare(within: migrationTimeout)
        } catch {
            await database.close()
            throw error
        }
        return database
    }

    init(_ settings: PostgresSettings, singleConnection: Bool, callTimeout: Duration) throws {
        self.settings = settings
        self.callTimeout = callTimeout
        var configuration = PostgresClient.Configuration(
            host: settings.host,
            port: settings.port,
            username: settings.user,
            password: settings.password,
            database: settings.database,
            tls: try settings.tls()
        )
        configuration.options.connectTimeout = callTimeout
        configuration.options.maximumConnections = singleConnection ? 1 : 20
        configuration.options.minimumConnections = 0
        configuration.options.additionalStartupParameters = [("application_name", "verdict")]
        connectionFailures = ConnectionFailureLog(password: settings.password)
        let client = PostgresClient(configuration: configuration, backgroundLogger: connectionFailures.logger)
        self.client = client
        running = Task { await client.run() }
    }

    /// Connects within one call's time (nothing listening is said in seconds, not at the migration's deadline),
    /// then migrates; and gives up as soon as a connection attempt fails for good (the pool would try a wrong
    /// password again until the deadline).
    func prepare(within timeout: Duration) async throws {
        let started = ContinuousClock.now
        let failures = connectionFailures
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await self.withConnection("connect to") { _ in }
                try await self.migrate(within: timeout)
            }
            group.addTask {
                while true {
                    try await Task.sleep(for: .milliseconds(20))
                    if let failure = failures.failure(since: started), failure.isPermanent {
                        throw self.unusable(failure.reason, doing: "connect to")
                    }
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    /// Ends the pool's connections.
    public func close() async {
        running.cancel()
        await running.value
    }

    /// Starts ending the pool's connections without waiting (for a caller that cannot wait).
    public func closeNow() {
        running.cancel()
    }

    /// Whether the database answers a query now.
    public func isReachable() async -> Bool {
        (try? await withConnection { connection in
            try await connection.query("SELECT 1", logger: Self.quiet)
        }) != nil
    }

    /// Runs `body` on one connection, within the call's time.
    @discardableResult
    func withConnection<T: Sendable>(
        _ doing: String = "use",
        within timeout: Duration? = nil,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        let client = client
        do {
            return try await Self.answer(within: timeout ?? callTimeout) {
                try await client.withConnection { connection in try await body(connection) }
            }
        } catch {
            throw explain(error, doing: doing, within: timeout ?? callTimeout)
        }
    }

    /// The operation's result, or `DeadlineExceeded` once `deadline` has passed, whether or not the operation
    /// heeds its cancellation: a connection lease or a query on a connection the server is tearing down may
    /// not, and a caller (a lookup, `/v1/ready`) must get its answer in time anyway. The operation is cancelled
    /// and ends on its own.
    static func answer<T: Sendable>(
        within deadline: Duration,
        _ operation: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let race = DeadlineRace<T>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                race.start(continuation, deadline: deadline, operation)
            }
        } onCancel: {
            race.finish(.failure(CancellationError()))
        }
    }

    /// Runs `body` in one transaction (`BEGIN` … `COMMIT`, rolled back if it throws), within the call's time.
    @discardableResult
    func transaction<T: Sendable>(
        _ doing: String = "use",
        within timeout: Duration? = nil,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        try await withConnection(doing, within: timeout) { connection in
            try await connection.query("BEGIN", logger: Self.quiet)
            do {
                let value = try await body(connection)
                try await connection.query("COMMIT", logger: Self.quiet)
                return value
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: Self.quiet)
                throw error
            }
        }
    }

    /// A store error that says what failed and what to check, with the server's own message when it sent one;
    /// never the password (postgres-nio's errors do not carry it, and the location leaves it out).
    func explain(_ error: any Error, doing action: String, within timeout: Duration) -> StoreError {
        if let error = error as? StoreError { return error }
        let reason: String
        if error is DeadlineExceeded {
            let attempt = connectionFailures.failure(since: .now - timeout - .seconds(5))
            reason =
                "no answer within \(timeout.milliseconds) ms"
                + (attempt.map { "; the last connection attempt failed: \($0.reason)" } ?? "")
        } else if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] {
                let state = error.serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? ""
                reason = "the server said: \(message)\(state)"
            } else if let underlying = error.underlying {
                reason = "\(error.code): \(underlying)"
            } else {
                reason = "\(error.code)"
            }
        } else if error is CancellationError {
            reason = "cancelled"
        } else {
            reason = "\(error)"
        }
        return unusable(reason, doing: action)
    }

    func unusable(_ reason: String, doing action: String) -> StoreError {
        StoreError(
            "cannot \(action) the PostgreSQL database \(settings.location): \(reason); check that it runs and that the URL, user and password are right",
            isUnavailable: true
        )
    }

    // MARK: - Tables

    /// Brings the tables up to date: each migration once, in order, under a transaction-scoped advisory lock so
    /// that replicas and nodes starting together wait for the first instead of creating the tables twice.
    func migrate(within timeout: Duration) async throws {
        try await transaction("prepare the tables in", within: timeout) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.migrationLock))", logger: Self.quiet)
            try await connection.query(
                "CREATE TABLE IF NOT EXISTS verdict_migration (name TEXT PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)",
                logger: Self.quiet
            )
            var applied = Set<String>()
            for try await name in try await connection.query("SELECT name FROM verdict_migration", logger: Self.quiet)
                .decode(String.self)
            {
                applied.insert(name)
            }
            for (name, statements) in Self.migrations where !applied.contains(name) {
                for statement in statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: Self.quiet)
                }
                let now = Date().timeIntervalSince1970
                try await connection.query(
                    "INSERT INTO verdict_migration (name, applied_at) VALUES (\(name), \(now))",
                    logger: Self.quiet
                )
            }
        }
    }

    /// A condition that is always true and makes the statement's own transaction commit without waiting for its
    /// WAL to reach the disk (`synchronous_commit = off` for that transaction alone), for data that may be lost in a
    /// server crash but never corrupted: cached answers and budget takes. Credits always wait for the disk.
    static let commitWithoutWaitingForDisk = "set_config('synchronous_commit', 'off', true) IS NOT NULL"

    /// The advisory lock the migrations take ("verdict" in ASCII).
    static let migrationLock: Int64 = 0x76_65_72_64_69_63_74

    /// The same tables as SQLite's, in PostgreSQL's types. The sources' windows are one text column of their
    /// budget's row, so a budget is read and written as one row (one round trip under its row lock).
    static let migrations: [(String, [String])] = [
        (
            "answers v1",
            [
                """
                CREATE TABLE answer (
                    source TEXT NOT NULL, type TEXT NOT NULL, value TEXT NOT NULL, fingerprint TEXT NOT NULL,
                    result TEXT NOT NULL, stored_at DOUBLE PRECISION NOT NULL, expires_at DOUBLE PRECISION NOT NULL,
                    PRIMARY KEY (source, type, value, fingerprint)
                )
                """,
                "CREATE INDEX answer_expiry ON answer (expires_at)",
            ]
        ),
        (
            "accounts v1",
            [
                """
                CREATE TABLE api_key (
                    id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL, prefix TEXT NOT NULL, hash TEXT NOT NULL,
                    plan TEXT NOT NULL, monthly_credits BIGINT, created_at DOUBLE PRECISION NOT NULL,
                    revoked_at DOUBLE PRECISION
                )
                """,
                "CREATE UNIQUE INDEX api_key_active_name ON api_key (name) WHERE revoked_at IS NULL",
                "CREATE INDEX api_key_prefix ON api_key (prefix)",
                """
                CREATE TABLE key_usage (
                    key_id BIGINT NOT NULL REFERENCES api_key (id), month TEXT NOT NULL,
                    credits_used BIGINT NOT NULL DEFAULT 0, requests BIGINT NOT NULL DEFAULT 0,
                    lookups BIGINT NOT NULL DEFAULT 0, cache_hits BIGINT NOT NULL DEFAULT 0,
                    upstream_lookups BIGINT NOT NULL DEFAULT 0, suppressed BIGINT NOT NULL DEFAULT 0,
                    PRIMARY KEY (key_id, month)
                )
                """,
                """
                CREATE TABLE credit_reservation (
                    id BIGSERIAL PRIMARY KEY, key_id BIGINT NOT NULL REFERENCES api_key (id), month TEXT NOT NULL,
                    amount BIGINT NOT NULL, created_at DOUBLE PRECISION NOT NULL
                )
                """,
                """
                CREATE TABLE credit_ledger (
                    id BIGSERIAL PRIMARY KEY, key_id BIGINT NOT NULL REFERENCES api_key (id), month TEXT NOT NULL,
                    request_id TEXT NOT NULL, credits BIGINT NOT NULL, at DOUBLE PRECISION NOT NULL
                )
                """,
                """
                CREATE TABLE key_lookup (
                    key_id BIGINT NOT NULL REFERENCES api_key (id), type TEXT NOT NULL, value TEXT NOT NULL,
                    first_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (key_id, type, value)
                )
                """,
            ]
        ),
        (
            "source budgets v1",
            [
                """
                CREATE TABLE source_budget (
                    source TEXT NOT NULL, fingerprint TEXT NOT NULL,
                    blocked_until DOUBLE PRECISION NOT NULL DEFAULT 0, failures BIGINT NOT NULL DEFAULT 0,
                    open_until DOUBLE PRECISION NOT NULL DEFAULT 0,
                    probe_lease_until DOUBLE PRECISION NOT NULL DEFAULT 0,
                    provider_limit BIGINT, provider_remaining BIGINT, provider_resets_at DOUBLE PRECISION,
                    windows TEXT NOT NULL DEFAULT '',
                    PRIMARY KEY (source, fingerprint)
                )
                """
            ]
        ),
        (
            "key requests v1",
            [
                """
                CREATE TABLE key_request (
                    key_id BIGINT NOT NULL, window_start BIGINT NOT NULL, total BIGINT NOT NULL,
                    PRIMARY KEY (key_id, window_start)
                )
                """
            ]
        ),
        (
            // Every write of a budget raises its version: a change is written only over the version it was made
            // from (see PostgresSourceBudgetStore).
            "source budget versions v1",
            ["ALTER TABLE source_budget ADD COLUMN version BIGINT NOT NULL DEFAULT 0"]
        ),
        (
            // Which reservation each charge settled, so that settling again changes nothing.
            "ledger reservations v1",
            [
                "ALTER TABLE credit_ledger ADD COLUMN reservation_id BIGINT",
                """
                CREATE UNIQUE INDEX credit_ledger_reservation ON credit_ledger (reservation_id)
                WHERE reservation_id IS NOT NULL
                """,
            ]
        ),
        (
            // The compiled feed index (FeedStore) and the analysts' overrides (OverrideStore).
            "feeds and overrides v1",
            [
                """
                CREATE TABLE feed_entry (
                    value TEXT NOT NULL, feed TEXT NOT NULL, kind TEXT NOT NULL, tags TEXT, link TEXT,
                    first_seen DOUBLE PRECISION, last_seen DOUBLE PRECISION,
                    PRIMARY KEY (value, feed)
                )
                """,
                "CREATE INDEX feed_entry_feed ON feed_entry (feed)",
                """
                CREATE TABLE feed_state (
                    name TEXT PRIMARY KEY, origin TEXT NOT NULL, location TEXT NOT NULL, format TEXT NOT NULL,
                    verdict TEXT NOT NULL, entries BIGINT NOT NULL, synced_at DOUBLE PRECISION,
                    checked_at DOUBLE PRECISION, last_error TEXT, etag TEXT, last_modified TEXT, digest TEXT
                )
                """,
                "CREATE TABLE feed_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
                "CREATE TABLE feed_sync_claim (name TEXT PRIMARY KEY, claimed_at DOUBLE PRECISION NOT NULL)",
                """
                CREATE TABLE analyst_override (
                    type TEXT NOT NULL, value TEXT NOT NULL, verdict TEXT NOT NULL, reason TEXT, author TEXT NOT NULL,
                    created_at DOUBLE PRECISION NOT NULL, expires_at DOUBLE PRECISION,
                    PRIMARY KEY (type, value)
                )
                """,
            ]
        ),
        (
            // Each feed's network prefix lengths (NetworkPrefixes); NULL for feeds indexed before, which are then
            // asked under every length until their next sync.
            "feed network prefixes v1",
            ["ALTER TABLE feed_state ADD COLUMN network_prefixes TEXT"]
        ),
        (
            // Each key's recent lookups, for the console (LookupHistoryStore).
            "lookup history v1",
            [
                """
                CREATE TABLE lookup_history (
                    id BIGSERIAL PRIMARY KEY, key_id BIGINT NOT NULL, at DOUBLE PRECISION NOT NULL,
                    indicators TEXT NOT NULL, verdict TEXT NOT NULL, credits_charged BIGINT NOT NULL,
                    results TEXT NOT NULL
                )
                """,
                "CREATE INDEX lookup_history_key ON lookup_history (key_id, at)",
            ]
        ),
    ]
}

/// An operation against a timer: the first to end answers the caller; the operation is then cancelled.
final class DeadlineRace<T: Sendable>: Sendable {
    private let waiting = Mutex<CheckedContinuation<T, any Error>?>(nil)
    private let work = Mutex<(operation: Task<Void, Never>?, timer: Task<Void, Never>?)>((nil, nil))

    func start(
        _ continuation: CheckedContinuation<T, any Error>,
        deadline: Duration,
        _ operation: @escaping @Sendable () async throws -> T
    ) {
        waiting.withLock { $0 = continuation }
        let timer = Task {
            try? await Task.sleep(for: deadline)
            guard !Task.isCancelled else { return }
            self.finish(.failure(DeadlineExceeded()))
        }
        let running = Task {
            do {
                self.finish(.success(try await operation()))
            } catch {
                self.finish(.failure(error))
            }
        }
        work.withLock { $0 = (running, timer) }
    }

    /// Answers the caller once (later answers are dropped) and stops whatever still runs.
    func finish(_ result: Result<T, any Error>) {
        waiting.withLock { $0.take() }?.resume(with: result)
        let (operation, timer) = work.withLock { $0 }
        operation?.cancel()
        timer?.cancel()
    }
}
