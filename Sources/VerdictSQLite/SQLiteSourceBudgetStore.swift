import Foundation
import GRDB
import VerdictCore
import VerdictSources
import VerdictStore

/// Source budgets in `verdict.sqlite`, beside the cache: every process on the data directory (custom-verdict
/// runs, verdict-ar, `verdict serve`, `verdict tail`) spends the same windows and sees the same circuit.
/// Each change is one write transaction (GRDB's are `BEGIN IMMEDIATE`), so the read and the write of a budget are
/// never split by another process's write (the busy handler queues them).
public final class SQLiteSourceBudgetStore: SourceBudgetStore {
    let writer: any DatabaseWriter

    public init(database: VerdictDatabase) {
        self.writer = database.writer
    }

    public func update<T: Sendable>(
        _ key: BudgetKey,
        _ change: @escaping @Sendable (inout SourceBudgetState) -> T
    ) async throws -> T {
        try await writer.write { db in
            var state = try Self.load(key, db)
            let before = state
            let value = change(&state)
            if state != before { try Self.save(state, key, db) }
            return value
        }
    }

    public func state(of key: BudgetKey) async throws -> SourceBudgetState {
        try await writer.read { db in try Self.load(key, db) }
    }

    static func load(_ key: BudgetKey, _ db: Database) throws -> SourceBudgetState {
        var state = SourceBudgetState()
        let arguments: StatementArguments = [key.source, key.fingerprint]
        if let row = try Row.fetchOne(
            db,
            sql: """
                SELECT blocked_until, failures, open_until, probe_lease_until, provider_limit, provider_remaining,
                       provider_resets_at
                FROM source_budget WHERE source = ? AND fingerprint = ?
                """,
            arguments: arguments
        ) {
            state.blockedUntil = row["blocked_until"]
            state.failures = row["failures"]
            state.openUntil = row["open_until"]
            state.probeLeaseUntil = row["probe_lease_until"]
            if let remaining: Int = row["provider_remaining"] {
                state.providerQuota = ProviderQuota(
                    limit: row["provider_limit"],
                    remaining: remaining,
                    resetsAt: row["provider_resets_at"]
                )
            }
        }
        state.windows = try Row.fetchAll(
            db,
            sql: """
                SELECT seconds, window_start, used FROM source_window
                WHERE source = ? AND fingerprint = ? ORDER BY seconds
                """,
            arguments: arguments
        ).map { SourceBudgetState.WindowUse(seconds: $0["seconds"], start: $0["window_start"], used: $0["used"]) }
        return state
    }

    static func save(_ state: SourceBudgetState, _ key: BudgetKey, _ db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO source_budget (source, fingerprint, blocked_until, failures, open_until, probe_lease_until,
                                           provider_limit, provider_remaining, provider_resets_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (source, fingerprint) DO UPDATE SET
                    blocked_until = excluded.blocked_until, failures = excluded.failures,
                    open_until = excluded.open_until, probe_lease_until = excluded.probe_lease_until,
                    provider_limit = excluded.provider_limit, provider_remaining = excluded.provider_remaining,
                    provider_resets_at = excluded.provider_resets_at
                """,
            arguments: [
                key.source, key.fingerprint, state.blockedUntil, state.failures, state.openUntil,
                state.probeLeaseUntil, state.providerQuota?.limit, state.providerQuota?.remaining,
                state.providerQuota?.resetsAt,
            ]
        )
        try db.execute(
            sql: "DELETE FROM source_window WHERE source = ? AND fingerprint = ?",
            arguments: [key.source, key.fingerprint]
        )
        for window in state.windows {
            try db.execute(
                sql: """
                    INSERT INTO source_window (source, fingerprint, seconds, window_start, used)
                    VALUES (?, ?, ?, ?, ?)
                    """,
                arguments: [key.source, key.fingerprint, window.seconds, window.start, window.used]
            )
        }
    }
}
