import VerdictSources
import VerdictStore

extension Stores {
    /// Every shared store in one SQLite file.
    ///   - log: where the cache's and the budgets' failures are told.
    public convenience init(
        sqlite database: VerdictDatabase,
        retryQueue: (any RetryQueueStore)?,
        log: @escaping @Sendable (String) -> Void
    ) {
        let health = StoreHealth(log: log)
        self.init(
            accounts: SQLiteAccountStore(database: database),
            cache: SQLiteLookupCache(database: database, health: health),
            budget: SQLiteSourceBudgetStore(database: database),
            feeds: SQLiteFeedStore(database: database),
            overrides: SQLiteOverrideStore(database: database),
            history: SQLiteLookupHistoryStore(database: database),
            retryQueue: retryQueue,
            health: health,
            location: database.path ?? "in memory",
            isReachable: { await database.isReachable() }
        )
    }
}
