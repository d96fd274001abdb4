import Foundation
import VerdictCore

/// VirusTotal API v3 (docs/sources.md): `GET /ip_addresses|domains|urls|files/{id}` with `x-apikey`.
public struct VirusTotalSource: ThreatIntelSource {
    public let name = "virustotal"
    public let supportedTypes: Set<IndicatorType> = [.ipv4, .ipv6, .domain, .url, .md5, .sha1, .sha256]
    public let isExternal = true
    public let settings: ProviderSettings
    let http: ProviderHTTPClient

    public static let defaultBaseURL = "https://www.virustotal.com/api/v3"

    public init(settings: ProviderSettings, http: ProviderHTTPClient = ProviderHTTPClient()) {
        self.settings = settings
        self.http = http
    }

    public var settingsFingerprint: String { settings.fingerprint }

    /// VirusTotal's URL identifier: unpadded URL-safe base64 of the URL (RFC 4648 §5).
    static func urlIdentifier(_ url: String) -> String {
        Data(url.utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    func path(for indicator: Indicator) -> (api: String, gui: String) {
        switch indicator.type {
        case .ipv4, .ipv6: ("ip_addresses/\(indicator.value)", "ip-address/\(indicator.value)")
        case .domain: ("domains/\(indicator.value)", "domain/\(indicator.value)")
        case .url:
            ("urls/\(Self.urlIdentifier(indicator.value))", "url/\(Self.urlIdentifier(indicator.value))")
        case .md5, .sha1, .sha256, .email: ("files/\(indicator.value)", "file/\(indicator.value)")
        }
    }

    public func lookUp(_ indicator: Indicator) async throws -> SourceResult {
        let path = path(for: indicator)
        let response = try await http.send(
            source: name,
            url: "\(settings.baseURL)/\(path.api)",
            headers: [("x-apikey", settings.apiKey ?? ""), ("Accept", "application/json")]
        )
        let errorCode = response.json?["error"]?["code"]?.stringValue
        switch response.status {
        case 200:
            break
        case 404:
            return .notFound(name)
        case 401:
            throw SourceError.badCredentials("virustotal: API key rejected (\(errorCode ?? "HTTP 401"))")
        case 429:
            throw SourceError.rateLimited(
                retryAfter: response.retryAfter(),
                "virustotal: quota exceeded (\(errorCode ?? "HTTP 429"))"
            )
        default:
            throw SourceError.http(
                status: response.status,
                "virustotal: HTTP \(response.status)\(errorCode.map { " \($0)" } ?? "")"
            )
        }
        guard let document = response.json else { throw SourceError.malformed("virustotal: answer is not valid JSON") }
        guard let attributes = document["data"]?["attributes"], case .object = attributes else {
            throw SourceError.malformed("virustotal: answer has no data.attributes")
        }
        return Self.result(from: attributes, indicator: indicator, link: "https://www.virustotal.com/gui/\(path.gui)")
    }

    /// Maps `data.attributes` (docs/sources.md): score from malicious + half the
    /// suspicious engines, out of 5 for network objects and 10 for files; nothing analysed is not found.
    static func result(from attributes: JSONValue, indicator: Indicator, link: String) -> SourceResult {
        var stats: [String: Int] = [:]
        if case .object(let members)? = attributes["last_analysis_stats"] {
            for member in members { stats[member.key] = member.value.intValue ?? 0 }
        }
        let total = stats.values.reduce(0, +)
        guard total > 0 else { return .notFound("virustotal") }
        let malicious = stats["malicious"] ?? 0
        let suspicious = stats["suspicious"] ?? 0
        let scale = indicator.type.isHash ? 10.0 : 5.0
        let score = min(100, Int((100 * (Double(malicious) + 0.5 * Double(suspicious)) / scale).rounded()))
        let verdict: Verdict = score >= 70 ? .malicious : score >= 30 ? .suspicious : .unknown
        var categories: [String] = []
        if let popular = attributes["popular_threat_classification"]?["popular_threat_category"]?.arrayValue {
            categories = popular.compactMap { $0["value"]?.stringValue }
        }
        var details: [(key: String, value: JSONValue)] = [
            ("malicious", .number(String(malicious))), ("suspicious", .number(String(suspicious))),
            ("total", .number(String(total))),
        ]
        for key in ["reputation", "asn", "as_owner", "country", "meaningful_name", "type_description"] {
            if let value = attributes[key], value != .null { details.append((key, value)) }
        }
        if let label = attributes["popular_threat_classification"]?["suggested_threat_label"], label != .null {
            details.append(("threat_label", label))
        }
        var result = SourceResult.found(
            "virustotal",
            verdict: verdict,
            score: score,
            evidence: "\(malicious)/\(total)",
            categories: categories,
            link: link,
            details: .object(details)
        )
        result.tags = attributes["tags"]?.arrayValue?.compactMap(\.stringValue) ?? []
        result.firstSeen = (attributes["first_submission_date"] ?? attributes["creation_date"])?.intValue.map {
            isoDate(unixSeconds: $0)
        }
        result.lastSeen = attributes["last_analysis_date"]?.intValue.map { isoDate(unixSeconds: $0) }
        return result
    }
}
