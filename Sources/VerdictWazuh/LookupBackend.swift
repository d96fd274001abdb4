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

/// Client mode: `POST /v1/enrichment/lookup` on a Verdict server (or anything speaking docs/contracts.md §2),
/// with `Authorization: Bearer <api_key>`. The key goes only into that header.
public struct ServerBackend: LookupBackend {
    public let endpoint: String
    let apiKey: String
    let client: HTTPClient
    public var mode: String { "client" }

    /// - Parameters:
    ///   - hookURL: the server's base URL (`http://verdict:8080`) or the lookup URL itself.
    public init(hookURL: String, apiKey: String, client: HTTPClient) throws(IntegrationFailure) {
        guard let url = URL(string: hookURL), ["http", "https"].contains(url.scheme?.lowercased() ?? ""),
            url.host != nil
        else {
            throw IntegrationFailure(
                .badArguments,
                "hook_url \"\(hookURL)\" is not an http(s) URL; give the Verdict server's address, or leave <hook_url> out for embedded mode"
            )
        }
        endpoint =
            url.path.isEmpty || url.path == "/" ? hookURL.trimmingTrailingSlash() + "/v1/enrichment/lookup" : hookURL
        self.apiKey = apiKey
        self.client = client
    }

    /// The server takes at most this many indicators a request (docs/contracts.md §2).
    /// The most indicators a Verdict server takes in one request (its default `maxIndicators`).
    public static let batchSize = ServerSettings().maxIndicators

    /// Alerts can hold more indicators than one request takes: they go in batches of at most `batchSize`, at
    /// once and within the same budget, in the extractor's order (an alert's own fields come first).
    public func lookUp(_ found: [FoundIndicator], sources: Set<String>?, within budget: Duration) async throws
        -> [IndicatorOutcome]
    {
        guard found.count > Self.batchSize else {
            return try await lookUpBatch(found, sources: sources, within: budget)
        }
        let batches = stride(from: 0, to: found.count, by: Self.batchSize).map {
            Array(found[$0..<min($0 + Self.batchSize, found.count)])
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
                        return .object([
                            ("type", .string(indicator.type.rawValue)), ("value", .string(indicator.value)),
                        ])
                    }
                )
            )
        ]
        if let sources { body.append(("sources", .array(sources.sorted().map(JSONValue.string)))) }
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
            let message = document?["error"]?["message"]?.scalarText ?? "no error message"
            // A server that is busy, failing or out of credits may answer later; a refused key or request will not.
            throw IntegrationFailure(
                .lookupFailed,
                "the Verdict server at \(endpoint) answered \(status) \(code): \(message)",
                isWorthRetrying: status >= 500 || status == 429 || status == 402 || status == 408
            )
        }
        guard case .array(let results)? = document?["results"], results.count == found.count else {
            throw IntegrationFailure(
                .lookupFailed,
                "the Verdict server at \(endpoint) answered 200 without one result per indicator"
            )
        }
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

extension String {
    func trimmingTrailingSlash() -> String {
        var text = self
        while text.hasSuffix("/") { text.removeLast() }
        return text
    }
}
