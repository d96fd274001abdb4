import VerdictSources
import VerdictStore

extension Stores {
    /// Every shared store in one PostgreSQL database.
    ///   - log: where the cache's and the budgets' failures are told.
    public convenience init(
        postgres database: PostgresDatabase,
        retryQueue: (any RetryQueueStore)?,
        log: @escaping @Sendable (String) -> Void
    ) {
        let health = StoreHealth(log: log)
        self.init(
            accounts: PostgresAccountStore(database: database),
            cache: PostgresLookupCache(database: database, health: health),
            budget: PostgresSourceBudgetStore(database: database),
            feeds: PostgresFeedStore(database: database),
            overrides: PostgresOverrideStore(database: database),
            history: PostgresLookupHistoryStore(database: database),
            retryQueue: retryQueue,
            health: health,
            location: database.settings.location,
            isReachable: { await database.isReachable() },
            close: { await database.close() }
        )
    }
}
