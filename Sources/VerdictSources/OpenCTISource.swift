import Foundation
import NIOHTTP1
import VerdictCore

/// A self-hosted OpenCTI (docs/sources.md): `POST /graphql` with `Authorization: Bearer`, the observables of the
/// value (current `FilterGroup` filters; hashes through the `StixFile` hash keys) and their indicators. A live
/// indicator (not revoked, not past `valid_until`) makes it malicious at the indicator's `x_opencti_score`; an
/// observable with none is context only. GraphQL errors come inside HTTP 200 and are errors here too.
public struct OpenCTISource: ThreatIntelSource {
    public let name = "opencti"
    public let supportedTypes: Set<IndicatorType> = [.ipv4, .ipv6, .domain, .url, .email, .md5, .sha1, .sha256]
    public let isExternal = true
    public let settings: ProviderSettings
    let http: ProviderHTTPClient
    let now: @Sendable () -> Date

    public init(
        settings: ProviderSettings,
        http: ProviderHTTPClient = ProviderHTTPClient(),
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.settings = settings
        self.http = http
        self.now = now
    }

    public var settingsFingerprint: String { settings.fingerprint }

    static let query = """
        query StixCyberObservables($types: [String], $filters: FilterGroup, $first: Int) { \
        stixCyberObservables(types: $types, filters: $filters, first: $first) { edges { node { id entity_type \
        observable_value x_opencti_score objectLabel { id value } indicators { edges { node { id pattern \
        valid_until revoked x_opencti_score } } } } } } }
        """

    /// The observable types and the filter key that find `indicator`.
    static func search(for indicator: Indicator) -> (types: [String], key: String) {
        switch indicator.type {
        case .ipv4: (["IPv4-Addr"], "value")
        case .ipv6: (["IPv6-Addr"], "value")
        case .domain: (["Domain-Name", "Hostname"], "value")
        case .url: (["Url"], "value")
        case .email: (["Email-Addr"], "value")
        case .md5: (["StixFile"], "hashes.MD5")
        case .sha1: (["StixFile"], "hashes.SHA-1")
        case .sha256: (["StixFile"], "hashes.SHA-256")
        }
    }

    public func lookUp(_ indicator: Indicator) async throws -> SourceResult {
        let (types, key) = Self.search(for: indicator)
        let filter = JSONValue.object([
            ("key", .string(key)), ("values", .array([.string(indicator.value)])), ("operator", .string("eq")),
            ("mode", .string("or")),
        ])
        let request = JSONValue.object([
            ("query", .string(Self.query)),
            (
                "variables",
                .object([
                    ("types", .array(types.map(JSONValue.string))),
                    (
                        "filters",
                        .object([("mode", .string("and")), ("filters", .array([filter])), ("filterGroups", .array([]))])
                    ),
                    ("first", .number("10")),
                ])
            ),
        ])
        var writer = JSONWriter()
        writer.value(request)
        let response = try await http.send(
            source: name,
            method: .POST,
            url: "\(settings.baseURL)/graphql",
            headers: [
                ("Authorization", "Bearer \(settings.apiKey ?? "")"), ("Content-Type", "application/json"),
                ("Accept", "application/json"),
            ],
            body: writer.bytes
        )
        try response.requireOK(source: name, providerMessage: Self.firstError(response.json)?.message)
        let document = try response.jsonObject(source: name)
        if let error = Self.firstError(document) {
            if ["AUTH_REQUIRED", "FORBIDDEN", "FORBIDDEN_ACCESS", "UNAUTHENTICATED"].contains(error.code ?? "") {
                throw SourceError.badCredentials("\(name): API key rejected (\(error.code ?? "")) (\(error.message))")
            }
            throw SourceError.malformed("\(name): GraphQL error \(error.code.map { "\($0): " } ?? "")\(error.message)")
        }
        guard let edges = document["data"]?["stixCyberObservables"]?["edges"]?.arrayValue else {
            throw SourceError.malformed("\(name): answer has no data.stixCyberObservables")
        }
        let nodes = edges.compactMap { $0["node"] }
        guard !nodes.isEmpty else { return .notFound(name) }
        let time = now()
        var labels: [String] = []
        var live: [(id: String?, score: Int)] = []
        for node in nodes {
            // `objectLabel` is a list on OpenCTI 5.12 and later, edges before.
            let labelNodes =
                node["objectLabel"]?.arrayValue ?? node["objectLabel"]?["edges"]?.arrayValue?.compactMap { $0["node"] }
                ?? []
            for label in labelNodes.compactMap({ $0["value"]?.stringValue }) where !labels.contains(label) {
                labels.append(label)
            }
            for edge in node["indicators"]?["edges"]?.arrayValue ?? [] {
                guard let indicatorNode = edge["node"], indicatorNode["revoked"]?.boolValue != true else { continue }
                if let until = indicatorNode["valid_until"]?.stringValue, let end = Self.date(until), end <= time {
                    continue
                }
                let score = indicatorNode["x_opencti_score"]?.intValue ?? node["x_opencti_score"]?.intValue ?? 50
                live.append((indicatorNode["id"]?.stringValue, score))
            }
        }
        let observable = nodes[0]
        let link = observable["id"]?.stringValue.map { "\(settings.baseURL)/dashboard/observations/observables/\($0)" }
        var result: SourceResult
        if let best = live.max(by: { $0.score < $1.score }) {
            result = .found(
                name,
                verdict: .malicious,
                score: min(100, max(0, best.score)),
                evidence: "indicator score \(best.score)",
                categories: labels,
                link: link
            )
        } else {
            // Known to OpenCTI, but no live indicator says it is bad: context, not a verdict.
            result = .found(
                name,
                verdict: .unknown,
                score: 0,
                evidence: "observable only",
                categories: labels,
                link: link
            )
        }
        result.details = .object([
            ("observables", .number(String(nodes.count))), ("live_indicators", .number(String(live.count))),
            ("observable_score", observable["x_opencti_score"] ?? .null),
        ])
        return result
    }

    static func firstError(_ document: JSONValue?) -> (message: String, code: String?)? {
        guard let first = document?["errors"]?.arrayValue?.first else { return nil }
        return (
            first["message"]?.stringValue ?? "unknown error",
            first["extensions"]?["code"]?.stringValue
        )
    }

    static func date(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }
}
