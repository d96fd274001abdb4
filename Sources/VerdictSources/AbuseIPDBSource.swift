import Foundation
import VerdictCore

/// AbuseIPDB v2 (docs/sources.md): `GET /check?ipAddress=&maxAgeInDays=90&verbose` with `Key`.
public struct AbuseIPDBSource: ThreatIntelSource {
    public let name = "abuseipdb"
    public let supportedTypes: Set<IndicatorType> = [.ipv4, .ipv6]
    public let isExternal = true
    public let settings: ProviderSettings
    let http: ProviderHTTPClient

    public static let defaultBaseURL = "https://api.abuseipdb.com/api/v2"

    /// AbuseIPDB's report categories (abuseipdb.com/categories), by ID.
    static let categoryNames: [Int: String] = [
        1: "dns_compromise", 2: "dns_poisoning", 3: "fraud_orders", 4: "ddos", 5: "ftp_bruteforce", 6: "ping_of_death",
        7: "phishing", 8: "fraud_voip", 9: "open_proxy", 10: "web_spam", 11: "email_spam", 12: "blog_spam",
        13: "vpn_ip", 14: "port_scan", 15: "hacking", 16: "sql_injection", 17: "spoofing", 18: "bruteforce",
        19: "bad_web_bot", 20: "exploited_host", 21: "web_app_attack", 22: "ssh", 23: "iot_targeted",
    ]

    public init(settings: ProviderSettings, http: ProviderHTTPClient = ProviderHTTPClient()) {
        self.settings = settings
        self.http = http
    }

    public var settingsFingerprint: String { settings.fingerprint }

    public func lookUp(_ indicator: Indicator) async throws -> SourceResult {
        let response = try await request(indicator)
        var result = try read(response, about: indicator)
        result.providerQuota = response.statedQuota()
        return result
    }

    func request(_ indicator: Indicator) async throws(SourceError) -> ProviderResponse {
        // IPv6 colons must be escaped in the query; dots need not be.
        var allowed = CharacterSet.alphanumerics
        allowed.insert(".")
        let address = indicator.value.addingPercentEncoding(withAllowedCharacters: allowed) ?? indicator.value
        let response = try await http.send(
            source: name,
            url: "\(settings.baseURL)/check?ipAddress=\(address)&maxAgeInDays=90&verbose",
            headers: [("Key", settings.apiKey ?? ""), ("Accept", "application/json")]
        )
        return response
    }

    func read(_ response: ProviderResponse, about indicator: Indicator) throws(SourceError) -> SourceResult {
        let message = response.json?["errors"]?.arrayValue?.first?["detail"]?.stringValue
        try response.requireOK(source: name, providerMessage: message)
        guard let data = try response.jsonObject(source: name)["data"], case .object = data else {
            throw SourceError.malformed("abuseipdb: answer has no data object")
        }
        let reports = data["totalReports"]?.intValue ?? 0
        let confidence = data["abuseConfidenceScore"]?.intValue ?? 0
        let link = "https://www.abuseipdb.com/check/\(indicator.value)"
        // An allow-listed address is positive evidence of good; no reports is not.
        if data["isWhitelisted"]?.boolValue == true {
            return .found(name, verdict: .harmless, score: 0, evidence: "whitelisted", link: link)
        }
        guard reports > 0, data["isPublic"]?.boolValue != false else { return .notFound(name) }
        var counts: [Int: Int] = [:]
        for report in data["reports"]?.arrayValue ?? [] {
            for id in report["categories"]?.arrayValue?.compactMap(\.intValue) ?? [] { counts[id, default: 0] += 1 }
        }
        let categories = counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .compactMap { Self.categoryNames[$0.key] }
        var result = SourceResult.found(
            name,
            verdict: confidence >= 70 ? .malicious : confidence >= 30 ? .suspicious : .unknown,
            score: confidence,
            evidence: "\(confidence)",
            categories: categories,
            link: link,
            details: .object([
                ("total_reports", .number(String(reports))),
                ("distinct_users", .number(String(data["numDistinctUsers"]?.intValue ?? 0))),
                ("usage_type", data["usageType"] ?? .null), ("isp", data["isp"] ?? .null),
                ("country", data["countryCode"] ?? .null), ("is_tor", data["isTor"] ?? .null),
            ])
        )
        result.lastSeen = data["lastReportedAt"]?.stringValue
        if data["isTor"]?.boolValue == true { result.tags = ["tor"] }
        return result
    }
}
