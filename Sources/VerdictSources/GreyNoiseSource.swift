import VerdictCore

/// GreyNoise Community (docs/sources.md): `GET /v3/community/{ip}` with header `key`.
public struct GreyNoiseSource: ThreatIntelSource {
    public let name = "greynoise"
    public let supportedTypes: Set<IndicatorType> = [.ipv4]
    public let isExternal = true
    public let settings: ProviderSettings
    let http: ProviderHTTPClient

    public static let defaultBaseURL = "https://api.greynoise.io"

    public init(settings: ProviderSettings, http: ProviderHTTPClient = ProviderHTTPClient()) {
        self.settings = settings
        self.http = http
    }

    public var settingsFingerprint: String { settings.fingerprint }

    public func lookUp(_ indicator: Indicator) async throws -> SourceResult {
        var headers = [("Accept", "application/json")]
        if let key = settings.apiKey, !key.isEmpty { headers.append(("key", key)) }
        let response = try await http.send(
            source: name,
            url: "\(settings.baseURL)/v3/community/\(indicator.value)",
            headers: headers
        )
        // A 404 still carries the object, with noise and riot false: not observed.
        if response.status == 404 { return .notFound(name) }
        try response.requireOK(source: name, providerMessage: response.json?["message"]?.stringValue)
        let document = try response.jsonObject(source: name)
        let classification = document["classification"]?.stringValue ?? "unknown"
        let noise = document["noise"]?.boolValue ?? false
        let riot = document["riot"]?.boolValue ?? false
        let link = document["link"]?.stringValue ?? "https://viz.greynoise.io/ip/\(indicator.value)"
        var result: SourceResult
        if classification == "malicious" {
            result = .found(
                name,
                verdict: .malicious,
                score: 85,
                evidence: "malicious",
                categories: ["scanner"],
                link: link
            )
        } else if riot || classification == "benign" {
            // RIOT: a known business service; positive evidence of good.
            result = .found(name, verdict: .harmless, score: 0, evidence: riot ? "riot" : "benign", link: link)
        } else if noise {
            result = .found(
                name,
                verdict: .suspicious,
                score: 40,
                evidence: "mass scanner",
                categories: ["scanner"],
                link: link
            )
        } else {
            return .notFound(name)
        }
        result.details = .object([
            ("name", document["name"] ?? .null), ("noise", .bool(noise)), ("riot", .bool(riot)),
            ("classification", .string(classification)),
        ])
        result.lastSeen = document["last_seen"]?.stringValue
        return result
    }
}
