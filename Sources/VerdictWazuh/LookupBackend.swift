import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import VerdictCore
import VerdictEngine
import VerdictSources

/// Where an alert's indicators are looked up: the engine in this process, or a Verdict server.
public protocol LookupBackend: Sendable {
    /// `embedded` or `client`, for the log line.
    var mode: String { get }
    /// One outcome per indicator, in order; throws when no answer came back at all.
    func lookUp(_ found: [FoundIndicator], sources: Set<String>?, within budget: Duration) async throws
        -> [IndicatorOutcome]
}

/// Embedded mode: the engine in-process, its cache in `<wazuh>/var/verdict` shared with other processes.
public struct EmbeddedBackend: LookupBackend {
    public let engine: EnrichmentEngine
    public var mode: String { "embedded" }

    public init(engine: EnrichmentEngine) {
        self.engine = engine
    }

    public func lookUp(_ found: [FoundIndicator], sources: Set<String>?, within budget: Duration) async throws
        -> [IndicatorOutcome]
    {
        let engine = engine
        let items = found.map { (indicator: $0.indicator, input: String?.none) }
        // Answers already in memory need no deadline, and a cancelled timer would hold memory until it fires.
        if let reports = engine.immediateReports(items, sources: sources) {
            return zip(reports, found).map { IndicatorOutcome(report: $0, field: $1.field) }
        }
        let reports: [IndicatorReport]
        do {
            reports = try await withDeadline(budget) { await engine.lookUp(items, sources: sources) }
        } catch {
            throw IntegrationFailure(
                .lookupFailed,
                "the lookups took longer than the \(budget.milliseconds) ms budget; raise <timeout> or lower the sources' timeout_ms",
                isWorthRetrying: true
            )
        }
        return zip(reports, found).map { IndicatorOutcome(report: $0, field: $1.field) }
    }
}

/// What a client-mode `<hook_url>` speaks: a Verdict server, or the hosted DFIR platform (providers.md §14), told
/// by its key (`sk-dfir-…`) or by `"api": "dfir"` in `<options>`.
public enum ClientAPI: String, Sendable {
    case verdict
    case dfir

    public static func detect(apiKey: String?, option: ClientAPI?) -> ClientAPI {
        option ?? ((apiKey ?? "").hasPrefix("sk-dfir-") ? .dfir : .verdict)
    }

    /// The lookup path under a bare base URL.
    var lookupPath: String { self == .dfir ? "/api/v1/enrichment/lookup" : "/v1/enrichment/lookup" }

    /// The most indicators one request takes.
    var batchSize: Int { self == .dfir ? DFIRPlatform.maxIndicators : ServerSettings().maxIndicators }
}

/// Client mode: `POST /v1/enrichment/lookup` on a Verdict server (or anything speaking docs/contracts.md §2),
/// or the DFIR platform's lookup in its shapes, with `Authorization: Bearer <api_key>`. The key goes only into
/// that header.
public struct ServerBackend: LookupBackend {
    public let endpoint: String
    let apiKey: String
    let client: HTTPClient
    public let api: ClientAPI
    public var mode: String { api == .dfir ? "client (dfir platform)" : "client" }

    /// - Parameters:
    ///   - hookURL: the server's base URL (`http://verdict:8080`) or the lookup URL itself.
    public init(
        hookURL: String,
        apiKey: String,
        client: HTTPClient,
        api: ClientAPI = .verdict
    ) throws(IntegrationFailure) {
        guard let url = URL(string: hookURL), ["http", "https"].contains(url.scheme?.lowercased() ?? ""),
            url.host != nil
        else {
            throw IntegrationFailure(
                .badArguments,
                "hook_url \"\(hookURL)\" is not an http(s) URL; give the Verdict server's address, or leave <hook_url> out for embedded mode"
            )
        }
        endpoint = url.path.isEmpty || url.path == "/" ? hookURL.trimmingTrailingSlash() + api.lookupPath : hookURL
        self.apiKey = apiKey
        self.client = client
        self.api = api
    }

    /// The most indicators a Verdict server takes in one request (its default `maxIndicators`).
    public static let batchSize = ServerSettings().maxIndicators

    /// Alerts can hold more indicators than one request takes: they go in batches of at most `batchSize`, at
    /// once and within the same budget, in the extractor's order (an alert's own fields come first).
    public func lookUp(_ found: [FoundIndicator], sources: Set<String>?, within budget: Duration) async throws
        -> [IndicatorOutcome]
    {
        let size = api.batchSize
        guard found.count > size else {
            return try await lookUpBatch(found, sources: sources, within: budget)
        }
        let batches = stride(from: 0, to: found.count, by: size).map {
            Array(found[$0..<min($0 + size, found.count)])
        }
        return try await withThrowingTaskGroup(of: (Int, [IndicatorOutcome]).self) { group in
            for (position, batch) in batches.enumerated() {
                group.addTask { (position, try await lookUpBatch(batch, sources: sources, within: budget)) }
            }
            var answers = [[IndicatorOutcome]](repeating: [], count: batches.count)
            for try await (position, outcomes) in group { answers[position] = outcomes }
            return answers.flatMap { $0 }
        }
    }

    func lookUpBatch(_ found: [FoundIndicator], sources: Set<String>?, within budget: Duration) async throws
        -> [IndicatorOutcome]
    {
        var body: [(key: String, value: JSONValue)] = [
            (
                "indicators",
                .array(
                    found.map {
                        let indicator = $0.indicator.withoutCredentials
                        let type = api == .dfir ? DFIRPlatform.type(of: indicator.type) : indicator.type.rawValue
                        return .object([("type", .string(type)), ("value", .string(indicator.value))])
                    }
                )
            )
        ]
        // The platform chooses its own providers.
        if let sources, api == .verdict { body.append(("sources", .array(sources.sorted().map(JSONValue.string)))) }
        var writer = JSONWriter()
        writer.value(.object(body))

        var request = HTTPClientRequest(url: endpoint)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Authorization", value: "Bearer \(apiKey)")
        request.headers.add(name: "User-Agent", value: "custom-verdict")
        request.body = .bytes(ByteBuffer(bytes: writer.bytes))
        let timeout = TimeAmount.nanoseconds(
            Int64(budget.components.seconds) * 1_000_000_000 + budget.components.attoseconds / 1_000_000_000
        )
        let status: Int
        let answer: [UInt8]
        do {
            let response = try await client.execute(request, timeout: timeout)
            status = Int(response.status.code)
            var buffer = try await response.body.collect(upTo: 8 << 20)
            answer = buffer.readBytes(length: buffer.readableBytes) ?? []
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
            throw IntegrationFailure(
                .lookupFailed,
                "the Verdict server at \(endpoint) did not answer within \(budget.milliseconds) ms",
                isWorthRetrying: true
            )
        } catch {
            throw IntegrationFailure(
                .lookupFailed,
                "cannot reach the Verdict server at \(endpoint): \(error)",
                isWorthRetrying: true
            )
        }
        let document = try? JSONValue(parsing: answer)
        guard status == 200 else {
            let code = document?["error"]?["code"]?.scalarText ?? "HTTP \(status)"
            // The platform's older errors are a bare string: `{"error": "…"}`.
            let message =
                document?["error"]?["message"]?.scalarText ?? document?["error"]?.scalarText ?? "no error message"
            // A server that is busy, failing or out of credits may answer later; a refused key or request will not.
            throw IntegrationFailure(
                .lookupFailed,
                "the Verdict server at \(endpoint) answered \(status) \(code): \(message)",
                isWorthRetrying: status >= 500 || status == 429 || status == 402 || status == 408
            )
        }
        let answered = api == .dfir ? document?["data"]?["results"] : document?["results"]
        guard case .array(var results)? = answered, results.count == found.count else {
            throw IntegrationFailure(
                .lookupFailed,
                "the Verdict server at \(endpoint) answered 200 without one result per indicator"
            )
        }
        if api == .dfir { results = zip(results, found).map { Self.verdictResult(ofPlatform: $0, for: $1.indicator) } }
        var outcomes: [IndicatorOutcome] = []
        for (result, item) in zip(results, found) {
            guard let outcome = IndicatorOutcome(apiResult: result, field: item.field) else {
                throw IntegrationFailure(
                    .lookupFailed,
                    "the Verdict server at \(endpoint) answered a result without indicator and verdict"
                )
            }
            outcomes.append(outcome)
        }
        return outcomes
    }
}

extension ServerBackend {
    /// One of the platform's results as a Verdict result: `clean` is harmless, each provider a source, the
    /// summary naming those that flagged it, as ours does.
    static func verdictResult(ofPlatform result: JSONValue, for indicator: Indicator) -> JSONValue {
        var sources: [JSONValue] = []
        var flagging: [String] = []
        if case .object(let providers)? = result["providers"] {
            for (name, answer) in providers {
                let said = DFIRPlatform.verdict(answer["verdict"]?.scalarText)
                let score = answer["score"]?.scalarText.flatMap { Int($0) } ?? 0
                if said == .malicious || said == .suspicious { flagging.append("\(name) \(score)") }
                sources.append(
                    .object([
                        ("source", .string(name)), ("status", .string("ok")), ("verdict", .string(said.rawValue)),
                        ("score", .number(String(score))),
                    ])
                )
            }
        }
        let overall = DFIRPlatform.verdict(result["verdict"]?.scalarText)
        let summary =
            flagging.isEmpty
            ? "\(sources.count) providers of the DFIR platform: \(overall.rawValue)"
            : "\(flagging.count) of \(sources.count) providers of the DFIR platform: \(overall.rawValue) (\(flagging.joined(separator: ", ")))"
        return .object([
            ("indicator", .object([("type", .string(indicator.type.rawValue)), ("value", .string(indicator.value))])),
            ("verdict", .string(overall.rawValue)), ("score", result["score"] ?? .number("0")),
            ("confidence", .string(flagging.count >= 2 ? "high" : flagging.count == 1 ? "medium" : "low")),
            ("summary", .string(summary)), ("categories", .array([])), ("cached", .bool(false)),
            ("sources", .array(sources)),
        ])
    }
}

extension String {
    func trimmingTrailingSlash() -> String {
        var text = self
        while text.hasSuffix("/") { text.removeLast() }
        return text
    }
}
