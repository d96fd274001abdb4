import VerdictCore

/// CrowdSec CTI (docs/sources.md): `GET /v2/smoke/{ip}` with header `x-api-key`; IPv4 and IPv6. The community
/// key allows 50 lookups a day, the default window.
public struct CrowdSecSource: ThreatIntelSource {
    public let name = "crowdsec"
    public let supportedTypes: Set<IndicatorType> = [.ipv4, .ipv6]
    public let isExternal = true
    public let settings: ProviderSettings
    let http: ProviderHTTPClient

    public static let defaultBaseURL = "https://cti.api.crowdsec.net"

    public init(settings: ProviderSettings, http: ProviderHTTPClient = ProviderHTTPClient()) {
        self.settings = settings
        self.http = http
    }

    public var settingsFingerprint: String { settings.fingerprint }

    public func lookUp(_ indicator: Indicator) async throws -> SourceResult {
        var headers = [("Accept", "application/json")]
        if let key = settings.apiKey, !key.isEmpty { headers.append(("x-api-key", key)) }
        let response = try await http.send(
            source: name,
            url: "\(settings.baseURL)/v2/smoke/\(indicator.value)",
            headers: headers
        )
        // 404: "IP address information not found", CrowdSec has never seen it.
        if response.status == 404 { return .notFound(name) }
        try response.requireOK(source: name, providerMessage: response.json?["message"]?.stringValue)
        let document = try response.jsonObject(source: name)
        let reputation = document["reputation"]?.stringValue ?? "unknown"
        let classifications = document["classifications"]?["classifications"]?.arrayValue ?? []
        let falsePositives = document["classifications"]?["false_positives"]?.arrayValue ?? []
        let behaviors = document["behaviors"]?.arrayValue ?? []
        let names = (behaviors + classifications).compactMap { $0["name"]?.stringValue }
        let labels = (falsePositives + classifications).compactMap { $0["label"]?.stringValue }
        let total = document["scores"]?["overall"]?["total"]?.intValue ?? 0
        let link = "https://app.crowdsec.net/cti/\(indicator.value)"
        var result: SourceResult
        if !falsePositives.isEmpty || reputation == "safe" {
            // Positive evidence of good: a known scanner, a CERT, a public resolver.
            result = .found(
                name,
                verdict: .harmless,
                score: 0,
                evidence: labels.first ?? "safe",
                categories: names,
                link: link
            )
        } else {
            switch reputation {
            case "malicious":
                result = .found(
                    name,
                    verdict: .malicious,
                    score: max(70, min(100, 20 * total)),
                    evidence: "malicious" + (names.first.map { " \($0)" } ?? ""),
                    categories: names,
                    link: link
                )
            case "suspicious":
                result = .found(
                    name,
                    verdict: .suspicious,
                    score: 50,
                    evidence: "suspicious",
                    categories: names,
                    link: link
                )
            case "known":
                // Seen, without a verdict of its own (a VPN, a proxy): a weak signal.
                result = .found(name, verdict: .suspicious, score: 30, evidence: "known", categories: names, link: link)
            default:
                return .notFound(name)
            }
        }
        result.details = .object([
            ("reputation", .string(reputation)), ("confidence", document["confidence"] ?? .null),
            ("background_noise", document["background_noise"] ?? .null), ("as_name", document["as_name"] ?? .null),
            ("classifications", .array(labels.map(JSONValue.string))),
        ])
        result.firstSeen = document["history"]?["first_seen"]?.stringValue
        result.lastSeen = document["history"]?["last_seen"]?.stringValue
        result.providerQuota = response.statedQuota()
        return result
    }
}
