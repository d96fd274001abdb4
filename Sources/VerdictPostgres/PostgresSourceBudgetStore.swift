import PostgresNIO
import VerdictCore
import VerdictSources
import VerdictStore

/// Source budgets in PostgreSQL: every replica and Wazuh node on the database spends the same windows and sees
/// the same circuit. A budget is one row; a change locks it (the upsert below takes the row lock), applies the
/// shared rules of `SourceBudgetState` and writes it back in the same transaction.
public final class PostgresSourceBudgetStore: SourceBudgetStore {
    let database: PostgresDatabase

    public init(database: PostgresDatabase) {
        self.database = database
    }

    public func update<T: Sendable>(
        _ key: BudgetKey,
        _ change: @escaping @Sendable (inout SourceBudgetState) -> T
    ) async throws -> T {
        try await database.transaction("update a source budget in") { connection in
            // Creates the row if needed and locks it either way: a no-op update still takes the row lock.
            let rows = try await connection.query(
                """
                INSERT INTO source_budget (source, fingerprint) VALUES (\(key.source), \(key.fingerprint))
                ON CONFLICT (source, fingerprint) DO UPDATE SET source = excluded.source
                RETURNING \(unescaped: Self.columns)
                """,
                logger: PostgresDatabase.quiet
            )
            var state = try await Self.state(rows)
            let before = state
            let value = change(&state)
            if state != before {
                try await connection.query(
                    """
                    UPDATE source_budget SET blocked_until = \(state.blockedUntil), failures = \(state.failures),
                        open_until = \(state.openUntil), probe_lease_until = \(state.probeLeaseUntil),
                        provider_limit = \(state.providerQuota?.limit), provider_remaining = \(state.providerQuota?.remaining),
                        provider_resets_at = \(state.providerQuota?.resetsAt), windows = \(Self.encode(state.windows))
                    WHERE source = \(key.source) AND fingerprint = \(key.fingerprint)
                    """,
                    logger: PostgresDatabase.quiet
                )
            }
            return value
        }
    }

    public func state(of key: BudgetKey) async throws -> SourceBudgetState {
        try await database.withConnection("read a source budget in") { connection in
            try await Self.state(
                connection.query(
                    """
                    SELECT \(unescaped: Self.columns) FROM source_budget
                    WHERE source = \(key.source) AND fingerprint = \(key.fingerprint)
                    """,
                    logger: PostgresDatabase.quiet
                )
            )
        }
    }

    static let columns = """
        blocked_until, failures, open_until, probe_lease_until, provider_limit, provider_remaining, \
        provider_resets_at, windows
        """

    static func state(_ rows: PostgresRowSequence) async throws -> SourceBudgetState {
        var state = SourceBudgetState()
        for try await (blocked, failures, open, lease, limit, remaining, resets, windows) in rows.decode(
            (Double, Int, Double, Double, Int?, Int?, Double?, String).self
        ) {
            state.blockedUntil = blocked
            state.failures = failures
            state.openUntil = open
            state.probeLeaseUntil = lease
            if let remaining {
                state.providerQuota = ProviderQuota(limit: limit, remaining: remaining, resetsAt: resets)
            }
            state.windows = decode(windows)
        }
        return state
    }

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
