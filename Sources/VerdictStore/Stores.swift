import VerdictEngine
import VerdictSources

/// The shared stores of one database, as `StoreFactory` opens them: keys, credits and usage; the answer cache;
/// the outside sources' budgets. The callers see protocols only, whichever database holds them.
public final class Stores: Sendable {
    public let accounts: any AccountStore
    /// The durable answer cache (no memory in front: `EngineRuntime(configuration:stores:)` puts the LRU there).
    public let cache: any LookupCache
    public let budget: any SourceBudgetStore
    /// The compiled index of the bulk feeds and of `VERDICT_FEEDS_DIR`'s lists.
    public let feeds: any FeedStore
    /// The analysts' overrides.
    public let overrides: any OverrideStore
    /// Each key's recent lookups (the console's history).
    public let history: any LookupHistoryStore
    /// Alerts kept for a later lookup, when the opener asked for them.
    public let retryQueue: (any RetryQueueStore)?
    /// Where the cache's and the budgets' failures are counted and told.
    public let health: StoreHealth
    /// The database, for messages: a file, or `postgres://user@host:port/name` (never a password).
    public let location: String
    private let reachable: @Sendable () async -> Bool
    private let closing: @Sendable () async -> Void

    public init(
        accounts: any AccountStore,
        cache: any LookupCache,
        budget: any SourceBudgetStore,
        feeds: any FeedStore,
        overrides: any OverrideStore,
        history: any LookupHistoryStore,
        retryQueue: (any RetryQueueStore)? = nil,
        health: StoreHealth,
        location: String,
        isReachable: @escaping @Sendable () async -> Bool,
        close: @escaping @Sendable () async -> Void = {}
    ) {
        self.accounts = accounts
        self.cache = cache
        self.budget = budget
        self.feeds = feeds
        self.overrides = overrides
        self.history = history
        self.retryQueue = retryQueue
        self.health = health
        self.location = location
        self.reachable = isReachable
        self.closing = close
    }

    /// Whether the database answers now (`GET /v1/ready`).
    public func isReachable() async -> Bool { await reachable() }

    /// Ends the connections (PostgreSQL's pool); SQLite's file closes with the process.
    public func close() async { await closing() }
}

extension EngineRuntime {
    /// The engine on one database's stores: its answers (the memory LRU in front) and the outside sources'
    /// budgets, both shared with every process using the same database.
    ///   - log: where one-time notices (a quota window spent) are told.
    public convenience init(
        configuration: EngineConfiguration,
        stores: Stores,
        log: @escaping @Sendable (String) -> Void
    ) throws {
        try self.init(
            configuration: configuration,
            cache: TieredLookupCache(store: stores.cache),
            budget: stores.budget,
            feeds: stores.feeds,
            overrides: stores.overrides,
            health: stores.health,
            notices: NoticeLog(log: log)
        )
    }
}
