import VerdictCore

/// Shodan InternetDB (docs/sources.md): `GET /{ip}`, no key. Context rather than reputation: open
/// ports, CVEs and tags; only the `compromised`, `malware` and `c2` tags make it suspicious.
public struct InternetDBSource: ThreatIntelSource {
    public let name = "internetdb"
    public let supportedTypes: Set<IndicatorType> = [.ipv4, .ipv6]
    public let isExternal = true
    public let settings: ProviderSettings
    let http: ProviderHTTPClient

    public static let defaultBaseURL = "https://internetdb.shodan.io"

    public init(settings: ProviderSettings, http: ProviderHTTPClient = ProviderHTTPClient()) {
        self.settings = settings
        self.http = http
    }

    public var settingsFingerprint: String { settings.fingerprint }

    public func lookUp(_ indicator: Indicator) async throws -> SourceResult {
        let response = try await http.send(
            source: name,
            url: "\(settings.baseURL)/\(indicator.value)",
            headers: [("Accept", "application/json")]
        )
        switch response.status {
        case 200: break
        case 404: return .notFound(name)
        case 429:
            throw SourceError.rateLimited(retryAfter: response.retryAfter(), "internetdb: rate limited (HTTP 429)")
        default:
            let detail = response.json?["detail"]?.stringValue.map { " (\($0))" } ?? ""
            throw SourceError.http(status: response.status, "internetdb: HTTP \(response.status)\(detail)")
        }
        guard let document = response.json, case .object = document else {
            throw SourceError.malformed("internetdb: answer is not valid JSON")
        }
        let tags = (document["tags"]?.arrayValue ?? []).compactMap(\.stringValue)
        let ports = (document["ports"]?.arrayValue ?? []).compactMap(\.intValue)
        let vulns = (document["vulns"]?.arrayValue ?? []).compactMap(\.stringValue)
        let bad = tags.filter { ["compromised", "malware", "c2"].contains($0) }
        var result = SourceResult.found(
            name,
            verdict: bad.isEmpty ? .unknown : .suspicious,
            score: bad.isEmpty ? 0 : 50,
            evidence: bad.first ?? "\(ports.count) open ports",
            categories: bad,
            link: "https://www.shodan.io/host/\(indicator.value)",
            details: .object([
                ("ports", .array(ports.map { .number(String($0)) })), ("vulns", .array(vulns.map(JSONValue.string))),
                ("hostnames", document["hostnames"] ?? .array([])),
            ])
        )
        result.tags = tags
        return result
    }
}
