import Crypto
import Foundation
import VerdictCore

/// Maltiverse (docs/sources.md): `GET /ip|hostname|url|sample/…` with `Authorization: Bearer`. URLs are
/// looked up by the SHA-256 of the exact URL string, computed once (Wazuh's script hashes twice).
public struct MaltiverseSource: ThreatIntelSource {
    public let name = "maltiverse"
    public let supportedTypes: Set<IndicatorType> = [.ipv4, .domain, .url, .md5, .sha1, .sha256]
    public let isExternal = true
    public let settings: ProviderSettings
    let http: ProviderHTTPClient

    public static let defaultBaseURL = "https://api.maltiverse.com"

    public init(settings: ProviderSettings, http: ProviderHTTPClient = ProviderHTTPClient()) {
        self.settings = settings
        self.http = http
    }

    public var settingsFingerprint: String { settings.fingerprint }

    func path(for indicator: Indicator) -> String {
        switch indicator.type {
        case .ipv4, .ipv6: "ip/\(indicator.value)"
        case .domain: "hostname/\(indicator.value)"
        case .url: "url/\(SHA256.hash(data: Array(indicator.value.utf8)).map { String(format: "%02x", $0) }.joined())"
        case .sha256: "sample/\(indicator.value)"
        case .md5: "sample/md5/\(indicator.value)"
        case .sha1, .email: "sample/sha1/\(indicator.value)"
        }
    }

    public func lookUp(_ indicator: Indicator) async throws -> SourceResult {
        let path = path(for: indicator)
        let response = try await http.send(
            source: name,
            url: "\(settings.baseURL)/\(path)",
            headers: [("Authorization", "Bearer \(settings.apiKey ?? "")"), ("Accept", "application/json")]
        )
        if response.status == 404 { return .notFound(name) }
        try response.requireOK(source: name, providerMessage: response.json?["message"]?.stringValue)
        let document = try response.jsonObject(source: name)
        let blacklist = document["blacklist"]?.arrayValue ?? []
        let link = "https://maltiverse.com/\(path.split(separator: "/").first ?? "ip")/\(indicator.value)"
        let result: SourceResult
        switch document["classification"]?.stringValue ?? "neutral" {
        case "malicious":
            result = .found(
                name,
                verdict: .malicious,
                score: min(100, 75 + 5 * blacklist.count),
                evidence: "malicious, \(blacklist.count) blacklists",
                link: link
            )
        case "suspicious":
            result = .found(name, verdict: .suspicious, score: 50, evidence: "suspicious", link: link)
        case "whitelisted", "whitelist":
            result = .found(name, verdict: .harmless, score: 0, evidence: "whitelisted", link: link)
        default:
            result =
                blacklist.isEmpty
                ? .found(name, verdict: .harmless, score: 0, evidence: "neutral", link: link)
                : .found(
                    name,
                    verdict: .suspicious,
                    score: 35,
                    evidence: "neutral, \(blacklist.count) blacklists",
                    link: link
                )
        }
        var enriched = result
        enriched.categories = Array(Set(blacklist.compactMap { $0["description"]?.stringValue })).sorted()
        enriched.tags = (document["tag"]?.arrayValue ?? []).compactMap(\.stringValue)
        enriched.firstSeen = document["creation_time"]?.stringValue
        enriched.lastSeen = document["modification_time"]?.stringValue
        enriched.details = .object([
            ("blacklist_sources", .array(blacklist.compactMap { $0["source"] })),
            ("as_name", document["as_name"] ?? .null), ("country", document["country_code"] ?? .null),
        ])
        return enriched
    }
}
