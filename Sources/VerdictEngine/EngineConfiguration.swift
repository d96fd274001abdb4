import Configuration
import Foundation
import SystemPackage
import VerdictCore
import VerdictSources

/// A setting that cannot be used, named as the user wrote it, with the fix.
public struct SettingError: Error, Sendable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// How one source is set up, and whether it is on.
public struct SourceConfiguration: Sendable {
    public var name: String
    public var apiKey: String?
    public var baseURL: String?
    /// Why the source is off (no key, no URL, disabled), for `verdict lookup --explain`.
    public var offReason: String?
    public var policy: GovernorPolicy
    /// MISP only: accept a self-signed certificate.
    public var insecureTLS: Bool

    public var isOn: Bool { offReason == nil }
}

/// Everything the engine is built from: docs/contracts.md §5 settings, layered as flags over environment
/// variables (`VERDICT_VIRUSTOTAL_API_KEY`) over the YAML file (`virustotal: {api_key: …}`) over defaults.
public struct EngineConfiguration: Sendable {
    public var sources: [SourceConfiguration]
    public var dataDirectory: String
    /// The database of the shared stores (`VERDICT_DATABASE_URL`, `database:`): `postgres://…` or `sqlite:PATH`;
    /// nil is the data directory's SQLite file. It may hold a password: never print it.
    public var databaseURL: String?
    public var feedsDirectory: String?
    /// The bulk feeds `verdict feeds sync` downloads (`feeds:` in the YAML file).
    public var feeds: [FeedSettings] = []
    public var lifetimes: CacheLifetimes
    public var aggregator: VerdictAggregator
    public var internalSuffixes: [String]
    public var server: ServerSettings
    /// The retry queue of alerts that got no answer (the integratord and active-response path).
    public var retry: RetrySettings
    /// A Verdict server for the Wazuh parts that have no hook_url (the active response): `client.url`.
    public var clientURL: String?
    /// Its API key: `client.api_key` (`VERDICT_CLIENT_API_KEY`).
    public var clientAPIKey: String?

    /// Every source, in the order results list them (`SourceCatalog`, then `local`).
    public static let sourceNames = SourceCatalog.names

    /// The settings that turn the outside sources on, for messages that tell a user how.
    public static let sourceKeySettings = SourceCatalog.keySettings

    /// Reads the settings.
    ///
    /// - Parameters:
    ///   - environment: the process environment (`VERDICT_*` variables, `VERDICT_CONFIG` for the YAML file).
    ///   - configFile: the YAML file; `VERDICT_CONFIG` when nil. A named file that does not exist is an error.
    public static func load(environment: [String: String], configFile: String? = nil) async throws
        -> EngineConfiguration
    {
        var providers: [any ConfigProvider] = [
            EnvironmentVariablesProvider(
                environmentVariables: environment,
                secretsSpecifier: .dynamic { key, _ in key.hasSuffix("_API_KEY") }
            )
        ]
        var feeds: [FeedSettings] = []
        if let path = configFile ?? environment["VERDICT_CONFIG"], !path.isEmpty {
            guard FileManager.default.fileExists(atPath: path) else {
                throw SettingError(
                    "VERDICT_CONFIG: \(path) does not exist; create it or point VERDICT_CONFIG at the YAML file"
                )
            }
            // Read once for the feeds map; an empty file, or one of comments only (as `verdict wazuh install`
            // writes it), holds no settings.
            let document = try FeedSettings.load(yamlFile: path)
            feeds = try FeedSettings.read(document: document, path: path)
            let holdsSettings = document != nil
            if holdsSettings {
                do {
                    // No `verdict:` root: `virustotal.api_key` in the file answers `verdict.virustotal.api_key`.
                    let file = try await FileProvider<YAMLSnapshot>(filePath: FilePath(path)).mapKeys { key in
                        var stripped = key
                        if stripped.components.first == "verdict" { stripped.components.removeFirst() }
                        return stripped
                    }
                    providers.append(file)
                } catch {
                    throw SettingError("VERDICT_CONFIG: \(path) is not valid YAML (\(error)); fix the file")
                }
            }
        }
        var configuration = try EngineConfiguration(reader: ConfigReader(providers: providers).scoped(to: "verdict"))
        configuration.feeds = feeds
        if !feeds.isEmpty, let index = configuration.sources.firstIndex(where: { $0.name == "local" }) {
            configuration.sources[index].offReason = nil
        }
        return configuration
    }

    init(reader: ConfigReader) throws {
        func text(_ key: String) -> String? {
            guard
                let value = reader.string(
                    forKey: ConfigKey(key),
                    isSecret: key.hasSuffix("api_key") || key.hasPrefix("database")
                )
            else {
                return nil
            }
            let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
            return trimmed.isEmpty ? nil : trimmed
        }
        func setting(_ key: String) -> String {
            "VERDICT_" + key.uppercased().replacingOccurrences(of: ".", with: "_") + " (\(key) in the YAML file)"
        }
        func number(_ key: String, default value: Double, range: ClosedRange<Double>) throws -> Double {
            guard let raw = text(key) else { return value }
            guard let parsed = Double(raw), range.contains(parsed) else {
                throw SettingError(
                    "\(setting(key)): \"\(raw)\" is not a number from \(range.lowerBound) to \(range.upperBound)"
                )
            }
            return parsed
        }
        func flag(_ key: String) throws -> Bool? {
            guard let raw = text(key)?.lowercased() else { return nil }
            switch raw {
            case "true", "yes", "1", "on": return true
            case "false", "no", "0", "off": return false
            default: throw SettingError("\(setting(key)): \"\(raw)\" is not true or false")
            }
        }

        var sources: [SourceConfiguration] = []
        for descriptor in SourceCatalog.outside {
            let name = descriptor.name
            let key = text("\(name).api_key") ?? descriptor.sharedKeySetting.flatMap { text("\($0).api_key") }
            let baseURL = text("\(name).url") ?? descriptor.defaultBaseURL
            if let baseURL,
                !(baseURL.hasPrefix("http://") || baseURL.hasPrefix("https://")) || URL(string: baseURL)?.host == nil
            {
                throw SettingError(
                    "\(setting("\(name).url")): \"\(baseURL)\" is not an http(s) URL; give the provider's base URL"
                )
            }
            var offReason: String?
            if try flag("\(name).enabled") == false {
                offReason = "disabled by \(setting("\(name).enabled"))"
            } else if baseURL == nil {
                offReason =
                    "no URL: set VERDICT_\(name.uppercased())_URL to your \(descriptor.title) (and \(descriptor.keyVariable))"
            } else if key == nil && !descriptor.keyless {
                offReason = "no API key: set \(descriptor.keyVariable)"
            }
            var windows = descriptor.defaultWindows
            if let rate = text("\(name).rate") {
                windows = try Self.parseWindows(rate, setting: setting("\(name).rate"))
            }
            let policy = GovernorPolicy(
                deadline: .milliseconds(Int64(try number("\(name).timeout_ms", default: 3000, range: 50...120_000))),
                maxConcurrent: Int(try number("\(name).max_concurrent", default: 4, range: 1...256)),
                windows: windows,
                failureThreshold: Int(try number("\(name).failure_threshold", default: 5, range: 1...1000)),
                openSeconds: try number("\(name).open_seconds", default: 30, range: 1...86_400),
                defaultRetryAfterSeconds: try number("\(name).retry_after_seconds", default: 60, range: 1...86_400)
            )
            sources.append(
                SourceConfiguration(
                    name: name,
                    apiKey: key,
                    baseURL: baseURL,
                    offReason: offReason,
                    policy: policy,
                    insecureTLS: try flag("\(name).insecure_tls") ?? false
                )
            )
        }
        feedsDirectory = text("feeds_dir")
        sources.append(
            SourceConfiguration(
                name: "local",
                offReason: feedsDirectory == nil
                    ? "no local feeds: set VERDICT_FEEDS_DIR or list feeds: in the settings" : nil,
                policy: GovernorPolicy(deadline: .seconds(1), maxConcurrent: 64),
                insecureTLS: false
            )
        )
        self.sources = sources
        dataDirectory = text("data_dir") ?? Self.defaultDataDirectory()
        databaseURL = text("database_url") ?? text("database")
        lifetimes = CacheLifetimes(
            found: try number("cache.found_ttl_seconds", default: 86_400, range: 0...31_536_000),
            notFound: try number("cache.not_found_ttl_seconds", default: 43_200, range: 0...31_536_000)
        )
        var aggregator = VerdictAggregator(weights: SourceCatalog.defaultWeights)
        aggregator.maliciousThreshold = Int(try number("aggregation.malicious_threshold", default: 70, range: 1...100))
        aggregator.suspiciousThreshold = Int(
            try number("aggregation.suspicious_threshold", default: 30, range: 1...100)
        )
        guard aggregator.suspiciousThreshold < aggregator.maliciousThreshold else {
            throw SettingError(
                "\(setting("aggregation.suspicious_threshold")) must be below \(setting("aggregation.malicious_threshold"))"
            )
        }
        if let weights = text("aggregation.weights") {
            for pair in weights.split(separator: ",") {
                let parts = pair.split(separator: "=").map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2, Self.sourceNames.contains(parts[0]), let weight = Double(parts[1]),
                    (0...1).contains(weight)
                else {
                    throw SettingError(
                        "\(setting("aggregation.weights")): \"\(pair)\" is not SOURCE=WEIGHT with a known source and a weight from 0 to 1"
                    )
                }
                aggregator.weights[parts[0]] = weight
            }
        }
        self.aggregator = aggregator
        internalSuffixes = (text("internal_suffixes") ?? "").split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }

        retry = RetrySettings(
            maxAlerts: Int(try number("retry.max_alerts", default: 10_000, range: 1...10_000_000)),
            maxAgeSeconds: try number("retry.max_age_hours", default: 24, range: 0.01...8760) * 3600,
            maxAttempts: Int(try number("retry.max_attempts", default: 20, range: 1...10_000)),
            perRun: Int(try number("retry.per_run", default: 5, range: 0...1000))
        )

        var server = ServerSettings()
        server.maxBodyBytes = Int(try number("server.max_body_bytes", default: 1_048_576, range: 1024...67_108_864))
        server.maxHeaderBytes = Int(try number("server.max_header_bytes", default: 16_384, range: 1024...1_048_576))
        server.requestTimeout = .milliseconds(
            Int64(try number("server.request_timeout_ms", default: 15_000, range: 100...600_000))
        )
        server.idleTimeoutSeconds = Int64(try number("server.idle_timeout_s", default: 60, range: 1...3600))
        server.bodyTimeout = .milliseconds(
            Int64(try number("server.body_timeout_ms", default: 10_000, range: 100...600_000))
        )
        server.maxInFlight = Int(try number("server.max_in_flight", default: 256, range: 1...100_000))
        server.maxInFlightPerKey = Int(try number("server.max_in_flight_per_key", default: 16, range: 1...100_000))
        server.metricsRequireKey = try flag("server.metrics_require_key") ?? false
        server.shareCacheBetweenKeys = try flag("server.share_cache_between_keys") ?? true
        if let names = text("server.admin_keys") {
            server.adminKeys = Set(
                names.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            )
        }
        server.historyEntries = Int(try number("server.history_entries", default: 50, range: 0...10_000))
        server.historyDays = try number("server.history_days", default: 30, range: 0.01...3650)
        if let rate = text("server.key_rate_limit") {
            if ["0", "off", "none"].contains(rate.lowercased()) {
                server.keyRateLimit = nil
            } else {
                let windows = try Self.parseWindows(rate, setting: setting("server.key_rate_limit"))
                guard windows.count == 1, windows[0].limit > 0 else {
                    throw SettingError(
                        "\(setting("server.key_rate_limit")): \"\(rate)\" must be one rate such as 50/second, or off"
                    )
                }
                server.keyRateLimit = windows[0]
            }
        }
        if let level = text("log_level")?.lowercased() {
            let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
            guard levels.contains(level) else {
                throw SettingError(
                    "\(setting("log_level")): \"\(level)\" is not one of \(levels.joined(separator: ", "))"
                )
            }
            server.logLevel = level
        }
        self.server = server
        clientURL = text("client.url")
        clientAPIKey = text("client.api_key")
    }

    /// `4/minute, 500/day` (also `/second`, `/hour`, `/month` of 30 days, or `/N s`).
    static func parseWindows(_ text: String, setting: String) throws -> [RateWindow] {
        try text.split(separator: ",").map { part in
            let pieces = part.split(separator: "/").map { $0.trimmingCharacters(in: .whitespaces) }
            let seconds: Int? =
                pieces.count == 2
                ? ["second": 1, "minute": 60, "hour": 3600, "day": 86_400, "month": 2_592_000][pieces[1]]
                    ?? (pieces[1].hasSuffix(" s") ? Int(pieces[1].dropLast(2)) : nil)
                : nil
            guard let seconds, let limit = Int(pieces[0]), limit >= 0 else {
                throw SettingError(
                    "\(setting): \"\(part.trimmingCharacters(in: .whitespaces))\" is not a rate such as 4/minute or 500/day"
                )
            }
            return RateWindow(limit: limit, seconds: seconds)
        }
    }

    static func defaultDataDirectory() -> String {
        let home = ProcessInfo.processInfo.environment["HOME"] ?? FileManager.default.currentDirectoryPath
        return home + "/.local/share/verdict"
    }
}

/// Limits of `verdict serve` (`server.*` settings, `VERDICT_SERVER_*` variables).
/// How long and how many alerts the retry queue keeps.
public struct RetrySettings: Sendable, Equatable {
    /// Past this many alerts the oldest are dropped (and counted).
    public var maxAlerts: Int
    /// Alerts older than this are dropped (and counted).
    public var maxAgeSeconds: Double
    /// After this many tries an alert's events are written with what answered (`error_sources` says who did not).
    public var maxAttempts: Int
    /// Queued alerts a `custom-verdict` or `verdict-ar` run retries after its own, within its budget.
    public var perRun: Int

    public init(maxAlerts: Int = 10_000, maxAgeSeconds: Double = 86_400, maxAttempts: Int = 20, perRun: Int = 5) {
        self.maxAlerts = maxAlerts
        self.maxAgeSeconds = maxAgeSeconds
        self.maxAttempts = maxAttempts
        self.perRun = perRun
    }
}

public struct ServerSettings: Sendable, Equatable {
    /// Largest request body accepted; larger ones get 413.
    public var maxBodyBytes = 1_048_576
    /// Largest request head (all header lines) accepted; larger ones get 400 and the connection closes.
    public var maxHeaderBytes = 16_384
    /// How long one request may take, lookups included; past it the request gets 504 and its credits back.
    public var requestTimeout: Duration = .seconds(15)
    /// Idle keep-alive connections are closed after this long.
    public var idleTimeoutSeconds: Int64 = 60
    /// Requests per key (a token bucket of `limit` tokens refilled over `seconds`); nil is no limit.
    public var keyRateLimit: RateWindow? = RateWindow(limit: 50, seconds: 1)
    /// Most indicators in one request (docs/contracts.md §2).
    public var maxIndicators = 100
    /// swift-log level name (`info` logs one line per request).
    public var logLevel = "info"
    /// A body that does not come whole with the request's head must arrive within this, however slowly it
    /// trickles; past it the request gets 408. (A client that sends nothing is closed by the idle timeout.)
    public var bodyTimeout: Duration = .seconds(10)
    /// Requests on the keyed routes at once, in all (503 past it) and per key (429 past it).
    public var maxInFlight = 256
    public var maxInFlightPerKey = 16
    /// `/metrics` answers only with a valid API key.
    public var metricsRequireKey = false
    /// Whether a key sees that another key's lookup is in the cache (`cached`, `age_s`, free). Off, each key
    /// sees only its own lookups as cached, and pays for a value the first time it asks, while the cache
    /// still spares the providers.
    public var shareCacheBetweenKeys = true
    /// Names of the API keys that may set overrides over the API (`server.admin_keys`, comma-separated).
    public var adminKeys: Set<String> = ["admin"]
    /// How many of each key's lookups the console's history keeps (`server.history_entries`; 0: none), and for
    /// how long (`server.history_days`).
    public var historyEntries = 50
    public var historyDays = 30.0

    public init() {}
}
