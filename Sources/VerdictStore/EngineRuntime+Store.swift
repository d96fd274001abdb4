import VerdictEngine
import VerdictSources

extension EngineRuntime {
    /// The engine on one store: its answers (the memory LRU in front) and the outside sources' budgets, both
    /// shared with every process using the same store.
    ///   - log: where the store's failures and one-time notices (a quota window spent) are told.
    public convenience init(
        configuration: EngineConfiguration,
        database: VerdictDatabase,
        log: @escaping @Sendable (String) -> Void
    ) throws {
        let health = StoreHealth(log: log)
        try self.init(
            configuration: configuration,
            cache: TieredLookupCache(store: SQLiteLookupCache(database: database, health: health)),
            budget: SQLiteSourceBudgetStore(database: database),
            health: health,
            notices: NoticeLog(log: log)
        )
    }
}
