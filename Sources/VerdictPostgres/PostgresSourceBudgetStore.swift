import PostgresNIO
import VerdictCore
import VerdictSources
import VerdictStore

/// Source budgets in PostgreSQL: every replica and Wazuh node on the database spends the same windows and sees
/// the same circuit. A budget is one row with a version. A change reads the row, applies the shared rules of
/// `SourceBudgetState` and writes it back only over the version it read (two round trips, no transaction); if
/// another process wrote in between, it starts again from the newer row, and after a few such losses it queues
/// on the row's lock instead. Writes commit without waiting for the disk: a PostgreSQL crash can lose the last
/// fraction of a second of takes (a few calls more than the window allows, once), never the row's consistency.
public final class PostgresSourceBudgetStore: SourceBudgetStore {
    let database: PostgresDatabase
    /// Tries before queueing on the row lock: losing this often means many writers on one budget at once.
    static let optimisticTries = 3

    public init(database: PostgresDatabase) {
        self.database = database
    }

    enum Attempt<T: Sendable>: Sendable {
        case done(T)
        case lostTheRace
    }

    public func update<T: Sendable>(
        _ key: BudgetKey,
        _ change: @escaping @Sendable (inout SourceBudgetState) -> T
    ) async throws -> T {
        for _ in 0..<Self.optimisticTries {
            let attempt = try await database.withConnection("update a source budget in") { connection in
                let (before, version) = try await Self.stateAndVersion(
                    connection.query(
                        """
                        SELECT \(unescaped: Self.columns), version FROM source_budget
                        WHERE source = \(key.source) AND fingerprint = \(key.fingerprint)
                        """,
                        logger: PostgresDatabase.quiet
                    )
                )
                var state = before
                let value = change(&state)
                if state == before { return Attempt.done(value) }
                return try await Self.write(state, of: key, over: version, on: connection)
                    ? Attempt.done(value) : Attempt.lostTheRace
            }
            if case .done(let value) = attempt { return value }
        }
        return try await lockedUpdate(key, change)
    }

    /// The change under the row's lock, in one transaction: waits for the writers before it, never loses.
    func lockedUpdate<T: Sendable>(
        _ key: BudgetKey,
        _ change: @escaping @Sendable (inout SourceBudgetState) -> T
    ) async throws -> T {
        try await database.transaction("update a source budget in") { connection in
            // Creates the row if needed and locks it either way: a no-op update still takes the row lock.
            let (before, version) = try await Self.stateAndVersion(
                connection.query(
                    """
                    INSERT INTO source_budget (source, fingerprint) VALUES (\(key.source), \(key.fingerprint))
                    ON CONFLICT (source, fingerprint) DO UPDATE SET source = excluded.source
                    RETURNING \(unescaped: Self.columns), version
                    """,
                    logger: PostgresDatabase.quiet
                )
            )
            var state = before
            let value = change(&state)
            // Under the lock the version cannot have moved: the write always lands.
            if state != before { _ = try await Self.write(state, of: key, over: version, on: connection) }
            return value
        }
    }

    /// Writes `state` if the row is still at `version` (or, at version 0, not there yet), committing without
    /// waiting for the disk; false when another process wrote first.
    static func write(
        _ state: SourceBudgetState,
        of key: BudgetKey,
        over version: Int64,
        on connection: PostgresConnection
    ) async throws -> Bool {
        let written = try await connection.query(
            """
            INSERT INTO source_budget AS budget (source, fingerprint, \(unescaped: columns), version)
            SELECT \(key.source), \(key.fingerprint), \(state.blockedUntil), \(state.failures), \(state.openUntil),
                   \(state.probeLeaseUntil), \(state.providerQuota?.limit), \(state.providerQuota?.remaining),
                   \(state.providerQuota?.resetsAt), \(encode(state.windows)), 1
            WHERE \(unescaped: PostgresDatabase.commitWithoutWaitingForDisk)
            ON CONFLICT (source, fingerprint) DO UPDATE SET \(unescaped: assignments), version = budget.version + 1
            WHERE budget.version = \(version)
            RETURNING version
            """,
            logger: PostgresDatabase.quiet
        )
        for try await _ in written.decode(Int64.self) { return true }
        return false
    }

    /// The state and version of the row `rows` holds (`columns`, then `version`); a budget never written is a fresh
    /// state at version 0.
    static func stateAndVersion(_ rows: PostgresRowSequence) async throws -> (SourceBudgetState, Int64) {
        var state = SourceBudgetState()
        var version: Int64 = 0
        for try await (blocked, failures, open, lease, limit, remaining, resets, windows, rowVersion) in rows.decode(
            (Double, Int, Double, Double, Int?, Int?, Double?, String, Int64).self
        ) {
            state.blockedUntil = blocked
            state.failures = failures
            state.openUntil = open
            state.probeLeaseUntil = lease
            if let remaining {
                state.providerQuota = ProviderQuota(limit: limit, remaining: remaining, resetsAt: resets)
            }
            state.windows = decode(windows)
            version = rowVersion
        }
        return (state, version)
    }

    public func state(of key: BudgetKey) async throws -> SourceBudgetState {
        try await database.withConnection("read a source budget in") { connection in
            try await Self.stateAndVersion(
                connection.query(
                    """
                    SELECT \(unescaped: Self.columns), version FROM source_budget
                    WHERE source = \(key.source) AND fingerprint = \(key.fingerprint)
                    """,
                    logger: PostgresDatabase.quiet
                )
            ).0
        }
    }

    static let columns = """
        blocked_until, failures, open_until, probe_lease_until, provider_limit, provider_remaining, \
        provider_resets_at, windows
        """

    static let assignments = """
        blocked_until = excluded.blocked_until, failures = excluded.failures, open_until = excluded.open_until, \
        probe_lease_until = excluded.probe_lease_until, provider_limit = excluded.provider_limit, \
        provider_remaining = excluded.provider_remaining, provider_resets_at = excluded.provider_resets_at, \
        windows = excluded.windows
        """

    /// Windows as `seconds:start:used` items separated by commas, ordered by length.
    static func encode(_ windows: [SourceBudgetState.WindowUse]) -> String {
        windows.sorted { $0.seconds < $1.seconds }.map { "\($0.seconds):\($0.start):\($0.used)" }.joined(separator: ",")
    }

    static func decode(_ text: String) -> [SourceBudgetState.WindowUse] {
        text.split(separator: ",").compactMap { item in
            let parts = item.split(separator: ":").compactMap { Int($0) }
            guard parts.count == 3 else { return nil }
            return SourceBudgetState.WindowUse(seconds: parts[0], start: Int64(parts[1]), used: parts[2])
        }
    }
}
