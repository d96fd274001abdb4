import AsyncHTTPClient
import Foundation
import NIOSSL
import VerdictCore
import VerdictSources

/// An engine built from settings, with the resources it owns (an HTTP client that accepts MISP's
/// self-signed certificate, when the setting asks for one). Call `shutdown()` before the process ends.
public final class EngineRuntime: Sendable {
    public let engine: EnrichmentEngine
    public let configuration: EngineConfiguration
    /// The local source, when it is on: its directory is read into the index by `prepare()`.
    public let localFeeds: LocalFeedsSource?
    /// Where the overrides the engine holds are kept; nil when the engine has none (tests of the engine alone).
    public let overrideStore: (any OverrideStore)?
    private let ownedClients: [HTTPClient]

    /// - Parameters:
    ///   - cache: where answers are kept; the SQLite store in the data directory for the CLI and the server.
    ///   - budget: where the outside sources' budgets are kept, shared with every process using the same store.
    ///   - feeds: the compiled feed index the local source answers from; the local source is off without one.
    ///   - overrides: the analysts' overrides, loaded into the engine by `prepare()`.
    ///   - health: counts and logs the stores' failures.
    public init(
        configuration: EngineConfiguration,
        cache: any LookupCache,
        budget: any SourceBudgetStore = MemorySourceBudgetStore(),
        feeds: (any FeedStore)? = nil,
        overrides: (any OverrideStore)? = nil,
        health: StoreHealth = StoreHealth(),
        notices: NoticeLog = NoticeLog()
    ) throws {
        self.configuration = configuration
        let shared = ProviderHTTPClient()
        var owned: [HTTPClient] = []
        var suppressor = Suppressor(internalSuffixes: configuration.internalSuffixes)
        var governors: [SourceGovernor] = []
        var local: LocalFeedsSource?
        for source in configuration.sources where source.isOn {
            var http = shared
            if source.insecureTLS {
                var tls = TLSConfiguration.makeClientConfiguration()
                tls.certificateVerification = .none
                var configuration = ProviderHTTPClient.configuration()
                configuration.tlsConfiguration = tls
                let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
                owned.append(client)
                http = ProviderHTTPClient(client: client)
            }
            let settings = ProviderSettings(apiKey: source.apiKey, baseURL: source.baseURL ?? "")
            let made: any ThreatIntelSource
            if let descriptor = SourceCatalog.descriptor(named: source.name) {
                made = descriptor.make(settings, http)
            } else {
                guard let feeds else {
                    throw SettingError("the local feeds need a store for their index; this is a bug, please report it")
                }
                // The local feeds: the same directory also holds the warninglists and the allow-list.
                let directory = configuration.feedsDirectory.map { URL(fileURLWithPath: $0) }
                if let directory {
                    do {
                        let contents = try FeedsDirectory(directory: directory)
                        suppressor = Suppressor(
                            warninglists: contents.warninglists,
                            allowList: contents.allowList,
                            internalSuffixes: configuration.internalSuffixes + contents.internalSuffixes
                        )
                    } catch {
                        throw SettingError("VERDICT_FEEDS_DIR: \(error)")
                    }
                }
                let weights = Dictionary(
                    configuration.feeds.map { ($0.name, $0.weight) },
                    uniquingKeysWith: { a, _ in a }
                )
                let source = LocalFeedsSource(store: feeds, directory: directory, weights: weights)
                local = source
                made = source
            }
            // The local feeds cost nothing and no other process can spend them: their budget stays in memory.
            governors.append(
                SourceGovernor(
                    source: made,
                    policy: source.policy,
                    budget: made.isExternal ? budget : MemorySourceBudgetStore(),
                    health: health,
                    notices: notices
                )
            )
        }
        ownedClients = owned
        localFeeds = local
        overrideStore = overrides
        engine = EnrichmentEngine(
            governors: governors,
            suppressor: suppressor,
            cache: cache,
            aggregator: configuration.aggregator,
            lifetimes: configuration.lifetimes,
            health: health
        )
    }

    /// Reads what the engine needs from the stores before its first lookup: the overrides in force, and
    /// `VERDICT_FEEDS_DIR`'s lists into the index when they changed.
    ///
    /// - Throws: `SettingError` for a list file that cannot be read; a store error when the store cannot be read.
    public func prepare() async throws {
        try await reload { try await $0.prepare() }
    }

    /// What long-lived processes do every few seconds: read the overrides again (another process or replica may
    /// have changed them) and the feeds directory if it changed.
    public func refresh() async throws {
        try await reload { try await $0.refreshDirectory() }
    }

    private func reload(_ readDirectory: (LocalFeedsSource) async throws -> Void) async throws {
        if let overrideStore {
            engine.overrides.replace(with: try await overrideStore.active(at: Date().timeIntervalSince1970))
        }
        guard let localFeeds else { return }
        do {
            try await readDirectory(localFeeds)
        } catch let error as FeedsError {
            throw SettingError("VERDICT_FEEDS_DIR: \(error)")
        }
    }

    public func shutdown() async {
        for client in ownedClients { try? await client.shutdown() }
    }
}
