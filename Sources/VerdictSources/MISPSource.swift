import NIOHTTP1
import VerdictCore

/// A self-hosted MISP (docs/sources.md): `POST /attributes/restSearch` with the raw automation key in
/// `Authorization`. Self-signed TLS is allowed only when the setting says so (the HTTP client's).
public struct MISPSource: ThreatIntelSource {
    public let name = "misp"
    public let supportedTypes: Set<IndicatorType> = [.ipv4, .ipv6, .domain, .url, .email, .md5, .sha1, .sha256]
    public let isExternal = true
    public let settings: ProviderSettings
    let http: ProviderHTTPClient

    public init(settings: ProviderSettings, http: ProviderHTTPClient = ProviderHTTPClient()) {
        self.settings = settings
        self.http = http
    }

    public var settingsFingerprint: String { settings.fingerprint }

    static func attributeTypes(for type: IndicatorType) -> [String] {
        switch type {
        case .ipv4, .ipv6: ["ip-src", "ip-dst", "ip-src|port", "ip-dst|port", "domain|ip"]
        case .domain: ["domain", "hostname", "domain|ip"]
        case .url: ["url", "uri", "link"]
        case .email: ["email", "email-src", "email-dst", "email-reply-to"]
        case .md5: ["md5", "filename|md5"]
        case .sha1: ["sha1", "filename|sha1"]
        case .sha256: ["sha256", "filename|sha256"]
        }
    }

    public func lookUp(_ indicator: Indicator) async throws -> SourceResult {
        let query = JSONValue.object([
            ("returnFormat", .string("json")), ("value", .string(indicator.value)),
            ("type", .array(Self.attributeTypes(for: indicator.type).map(JSONValue.string))),
            ("includeEventTags", .number("1")), ("includeWarninglistHits", .number("1")), ("deleted", .number("0")),
            ("limit", .number("50")),
        ])
        var writer = JSONWriter()
        writer.value(query)
        let response = try await http.send(
            source: name,
            method: .POST,
            url: "\(settings.baseURL)/attributes/restSearch",
            headers: [
                ("Authorization", settings.apiKey ?? ""), ("Accept", "application/json"),
                ("Content-Type", "application/json"),
            ],
            body: writer.bytes
        )
        try response.requireOK(source: name, providerMessage: response.json?["message"]?.stringValue)
        let document = try response.jsonObject(source: name)
        guard let attributes = document["response"]?["Attribute"]?.arrayValue else {
            throw SourceError.malformed("misp: answer has no response.Attribute")
        }
        guard !attributes.isEmpty else {
            var result = SourceResult.notFound(name)
            result.providerQuota = response.statedQuota()
            return result
        }
        let detection = attributes.filter { $0["to_ids"]?.boolValue == true }
        let cleanDetection = detection.filter { ($0["warnings"]?.arrayValue ?? []).isEmpty }
        let falsePositive = attributes.contains { attribute in
            (attribute["warnings"]?.arrayValue ?? []).contains {
                $0["warninglist_category"]?.stringValue == "false_positive"
            }
        }
        let events = Array(Set(attributes.compactMap { $0["Event"]?["info"]?.stringValue })).sorted()
        let tags = Array(Set(attributes.flatMap { $0["Tag"]?.arrayValue ?? [] }.compactMap { $0["name"]?.stringValue }))
            .sorted()
        let eventIDs = attributes.compactMap { $0["event_id"]?.scalarText }
        var result: SourceResult
        if falsePositive && cleanDetection.isEmpty {
            result = .found(name, verdict: .harmless, score: 0, evidence: "on a MISP warninglist")
        } else if !detection.isEmpty {
            result = .found(
                name,
                verdict: .malicious,
                score: 80,
                evidence: events.count == 1 ? "1 event" : "\(events.count) events"
            )
        } else {
            result = .found(name, verdict: .suspicious, score: 40, evidence: "not for detection")
        }
        result.categories = Array(Set(attributes.compactMap { $0["category"]?.stringValue })).sorted()
        result.tags = tags
        result.link = eventIDs.first.map { "\(settings.baseURL)/events/view/\($0)" }
        result.details = .object([
            ("events", .array(events.map(JSONValue.string))), ("attributes", .number(String(attributes.count))),
        ])
        result.providerQuota = response.statedQuota()
        return result
    }
}
