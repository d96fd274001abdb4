import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing
import VerdictCore
import VerdictEngine
import VerdictSQLite
import VerdictServer
import VerdictSources
import VerdictStore
import VerdictTestSupport

/// A server as `verdict serve` builds it, on a temporary data directory, with AbuseIPDB (IPv4) and
/// URLhaus (URLs, domains, hashes) pointed at mock providers on 127.0.0.1.
struct ServerHarness {
    let directory: String
    let database: VerdictDatabase
    let accounts: SQLiteAccountStore
    let runtime: EngineRuntime
    let configuration: EngineConfiguration

    static let abuseIPDBMalicious = #"""
        {"data":{"ipAddress":"185.220.101.4","isPublic":true,"ipVersion":4,"isWhitelisted":false,"abuseConfidenceScore":100,
         "countryCode":"DE","usageType":"Reserved","isp":"Tor Exit","domain":"tor.example","isTor":true,"totalReports":47,
         "numDistinctUsers":22,"lastReportedAt":"2024-05-29T18:33:12+00:00"}}
        """#
    static let urlhausNoResults = #"{"query_status":"no_results"}"#

    /// - Parameters:
    ///   - settings: changes to the server settings; the defaults otherwise.
    init(
        directory: String? = nil,
        abuseIPDB: MockProviderServer,
        urlhaus: MockProviderServer? = nil,
        extraEnvironment: [String: String] = [:]
    ) async throws {
        let directory =
            directory
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("verdict-server-\(UUID().uuidString)").path
        self.directory = directory
        var environment = [
            "VERDICT_ABUSEIPDB_API_KEY": "abuse-secret-key-42", "VERDICT_ABUSEIPDB_URL": abuseIPDB.baseURL,
            "VERDICT_ABUSEIPDB_TIMEOUT_MS": "2000", "VERDICT_INTERNETDB_ENABLED": "false",
            "VERDICT_DATA_DIR": directory,
        ]
        if let urlhaus {
            environment["VERDICT_ABUSECH_API_KEY"] = "abusech-secret-key-42"
            environment["VERDICT_URLHAUS_URL"] = urlhaus.baseURL
            environment["VERDICT_THREATFOX_ENABLED"] = "false"
            environment["VERDICT_MALWAREBAZAAR_ENABLED"] = "false"
        }
        environment.merge(extraEnvironment) { _, new in new }
        configuration = try await EngineConfiguration.load(environment: environment)
        database = try VerdictDatabase(directory: directory)
        accounts = SQLiteAccountStore(database: database)
        runtime = try EngineRuntime(
            configuration: configuration,
            cache: TieredLookupCache(store: SQLiteLookupCache(database: database)),
            feeds: SQLiteFeedStore(database: database),
            overrides: SQLiteOverrideStore(database: database)
        )
        try await runtime.prepare()
    }

    func application(_ change: (inout ServerSettings) -> Void = { _ in }) -> some ApplicationProtocol {
        var settings = configuration.server
        change(&settings)
        var offSources: [String: String] = [:]
        for source in configuration.sources { if let reason = source.offReason { offSources[source.name] = reason } }
        var logger = Logger(label: "verdict.server.test")
        logger.logLevel = .warning
        return buildApplication(
            ServerComponents(
                engine: runtime.engine,
                accounts: accounts,
                settings: settings,
                offSources: offSources,
                overrides: runtime.overrideStore,
                feeds: SQLiteFeedStore(database: database),
                history: SQLiteLookupHistoryStore(database: database)
            ),
            port: 0,
            logger: logger
        )
    }

    func key(_ name: String = "soc1", plan: Plan = .professional, credits: Int? = nil) async throws -> String {
        try await accounts.createKey(name: name, plan: plan, monthlyCredits: credits).secret
    }

    func remove() async {
        await runtime.shutdown()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// A harness with AbuseIPDB answering `reply` to every request; always cleaned up.
    static func with<T>(
        abuseIPDB reply: MockProviderServer.Reply = .json(200, abuseIPDBMalicious),
        extraEnvironment: [String: String] = [:],
        _ body: (ServerHarness, MockProviderServer) async throws -> T
    ) async throws -> T {
        let handler: MockProviderServer.Handler = { _ in reply }
        return try await MockProviderServer.with(handler) { abuseIPDB in
            let harness = try await ServerHarness(abuseIPDB: abuseIPDB, extraEnvironment: extraEnvironment)
            do {
                let value = try await body(harness, abuseIPDB)
                await harness.remove()
                return value
            } catch {
                await harness.remove()
                throw error
            }
        }
    }
}

/// Requests and answers in the API's terms.
extension TestClientProtocol {
    func lookup(_ body: String, key: String?, contentType: String? = "application/json") async throws -> TestResponse {
        var headers: HTTPFields = [:]
        if let key { headers[.authorization] = "Bearer \(key)" }
        if let contentType { headers[.contentType] = contentType }
        return try await execute(
            uri: "/v1/enrichment/lookup",
            method: .post,
            headers: headers,
            body: ByteBuffer(string: body)
        )
    }

    func get(_ uri: String, key: String? = nil) async throws -> TestResponse {
        var headers: HTTPFields = [:]
        if let key { headers[.authorization] = "Bearer \(key)" }
        return try await execute(uri: uri, method: .get, headers: headers)
    }
}

extension TestResponse {
    var json: JSONValue {
        get throws { try JSONValue(parsing: Array(body.readableBytesView)) }
    }

    var errorCode: String? { (try? json)?["error"]?["code"]?.scalarText }

    var text: String { String(buffer: body) }
}

extension JSONValue {
    var int: Int? { scalarText.flatMap { Int($0) } }

    var items: [JSONValue] {
        if case .array(let items) = self { return items }
        return []
    }
}
