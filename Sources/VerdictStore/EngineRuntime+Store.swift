import VerdictEngine
import VerdictSources

extension EngineRuntime {
    /// The engine on one store: its answers (the memory LRU in front) and the outside sources' budgets, both
    /// shared with every process using the same store.
    public convenience init(configuration: EngineConfiguration, database: VerdictDatabase, health: StoreHealth) throws {
        try self.init(
            configuration: configuration,
            cache: TieredLookupCache(store: SQLiteLookupCache(database: database, health: health)),
            budget: SQLiteSourceBudgetStore(database: database),
            health: health
        )
    }
}
