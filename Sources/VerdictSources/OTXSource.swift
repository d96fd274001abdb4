import Foundation
import VerdictCore

/// AlienVault OTX (docs/sources.md): `GET /indicators/{IPv4|IPv6|domain|url|file}/{value}/general`.
public struct OTXSource: ThreatIntelSource {
    public let name = "otx"
    public let supportedTypes: Set<IndicatorType> = [.ipv4, .ipv6, .domain, .url, .md5, .sha1, .sha256]
    public let isExternal = true
    public let settings: ProviderSettings
    let http: ProviderHTTPClient

    public static let defaultBaseURL = "https://otx.alienvault.com/api/v1"

    public init(settings: ProviderSettings, http: ProviderHTTPClient = ProviderHTTPClient()) {
        self.settings = settings
        self.http = http
    }

    public var settingsFingerprint: String { settings.fingerprint }

    public func lookUp(_ indicator: Indicator) async throws -> SourceResult {
        let slug: String =
            switch indicator.type {
            case .ipv4: "IPv4"
            case .ipv6: "IPv6"
            case .domain: "domain"
            case .url: "url"
            default: "file"
            }
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~:")
        let value = indicator.value.addingPercentEncoding(withAllowedCharacters: allowed) ?? indicator.value
        let response = try await http.send(
            source: name,
            url: "\(settings.baseURL)/indicators/\(slug)/\(value)/general",
            headers: [("X-OTX-API-KEY", settings.apiKey ?? ""), ("Accept", "application/json")]
        )
        if response.status == 404 { return .notFound(name) }
        try response.requireOK(source: name, providerMessage: response.json?["detail"]?.stringValue)
        let document = try response.jsonObject(source: name)
        let link = "https://otx.alienvault.com/indicator/\(slug == "file" ? "file" : slug.lowercased())/\(value)"
        let validation = document["validation"]?.arrayValue ?? []
        let falsePositives = (document["false_positive"] ?? document["False_positive"])?.arrayValue ?? []
        if !validation.isEmpty || falsePositives.contains(where: { $0["assessment"]?.stringValue == "accepted" }) {
            let why = validation.first?["name"]?.stringValue ?? "accepted false positive"
            return .found(name, verdict: .harmless, score: 0, evidence: why, link: link)
        }
        let pulses = document["pulse_info"]?["pulses"]?.arrayValue ?? []
        let count = document["pulse_info"]?["count"]?.intValue ?? pulses.count
        guard count > 0 else { return .notFound(name) }
        let score = min(100, 35 + 15 * count)
        var families = Set<String>()
        for pulse in pulses {
            for family in pulse["malware_families"]?.arrayValue ?? [] {
                if let text = family.stringValue ?? family["display_name"]?.stringValue { families.insert(text) }
            }
        }
        var result = SourceResult.found(
            name,
            verdict: score >= 70 ? .malicious : .suspicious,
            score: score,
            evidence: count == 1 ? "1 pulse" : "\(count) pulses",
            categories: families.sorted(),
            link: link,
            details: .object([
                ("pulses", .number(String(count))),
                ("pulse_names", .array(pulses.prefix(5).compactMap { $0["name"] })),
            ])
        )
        result.tags = Array(Set(pulses.flatMap { $0["tags"]?.arrayValue ?? [] }.compactMap(\.stringValue))).sorted()
        let created = pulses.compactMap { $0["created"]?.stringValue }
        result.firstSeen = created.min()
        result.lastSeen = pulses.compactMap { $0["modified"]?.stringValue }.max()
        return result
    }
}
