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
    private let ownedClients: [HTTPClient]

    /// - Parameters:
    ///   - cache: where answers are kept; the SQLite store in the data directory for the CLI and the server.
    ///   - budget: where the outside sources' budgets are kept, shared with every process using the same store.
    ///   - health: counts and logs the stores' failures.
    public init(
        configuration: EngineConfiguration,
        cache: any LookupCache,
        budget: any SourceBudgetStore = MemorySourceBudgetStore(),
        health: StoreHealth = StoreHealth(),
        notices: NoticeLog = NoticeLog()
    ) throws {
        self.configuration = configuration
        let shared = ProviderHTTPClient()
        var owned: [HTTPClient] = []
        var suppressor = Suppressor(internalSuffixes: configuration.internalSuffixes)
        var governors: [SourceGovernor] = []
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
            switch source.name {
            case "virustotal": made = VirusTotalSource(settings: settings, http: http)
            case "abuseipdb": made = AbuseIPDBSource(settings: settings, http: http)
            case "otx": made = OTXSource(settings: settings, http: http)
            case "greynoise": made = GreyNoiseSource(settings: settings, http: http)
            case "misp": made = MISPSource(settings: settings, http: http)
            case "maltiverse": made = MaltiverseSource(settings: settings, http: http)
            case "urlhaus": made = URLhausSource(settings: settings, http: http)
            case "threatfox": made = ThreatFoxSource(settings: settings, http: http)
            case "malwarebazaar": made = MalwareBazaarSource(settings: settings, http: http)
            case "internetdb": made = InternetDBSource(settings: settings, http: http)
            default:
                // The local feeds: the same directory also holds the warninglists and the allow-list.
                let directory = URL(fileURLWithPath: configuration.feedsDirectory ?? "")
                do {
                    let feeds = try FeedsDirectory(directory: directory)
                    suppressor = Suppressor(
                        warninglists: feeds.warninglists,
                        allowList: feeds.allowList,
                        internalSuffixes: configuration.internalSuffixes + feeds.internalSuffixes
                    )
                    made = try LocalFeedsSource(directory: directory)
                } catch {
                    throw SettingError("VERDICT_FEEDS_DIR: \(error)")
                }
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
        engine = EnrichmentEngine(
            governors: governors,
            suppressor: suppressor,
            cache: cache,
            aggregator: configuration.aggregator,
            lifetimes: configuration.lifetimes,
            health: health
        )
    }

    public func shutdown() async {
        for client in ownedClients { try? await client.shutdown() }
    }
}
