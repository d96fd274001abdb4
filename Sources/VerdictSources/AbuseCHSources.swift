import Foundation
import NIOHTTP1
import VerdictCore

/// What the three abuse.ch APIs share: one `Auth-Key` for all (`VERDICT_ABUSECH_API_KEY`), `query_status`
/// in every answer, and `unknown_auth_key` (HTTP 401 or 403) for a bad key (docs/sources.md).
enum AbuseCH {
    static func send(
        _ source: String,
        settings: ProviderSettings,
        http: ProviderHTTPClient,
        url: String,
        form: [(String, String)]? = nil,
        json: JSONValue? = nil
    ) async throws(SourceError) -> (status: String, document: JSONValue) {
        var headers = [("Auth-Key", settings.apiKey ?? ""), ("Accept", "application/json")]
        var body: [UInt8]
        if let json {
            var writer = JSONWriter()
            writer.value(json)
            body = writer.bytes
            headers.append(("Content-Type", "application/json"))
        } else {
            body = Array(formEncoded(form ?? []).utf8)
            headers.append(("Content-Type", "application/x-www-form-urlencoded"))
        }
        let response = try await http.send(source: source, method: .POST, url: url, headers: headers, body: body)
        let document = response.json
        let queryStatus = document?["query_status"]?.stringValue
        if response.status == 401 || response.status == 403 || queryStatus == "unknown_auth_key" {
            throw .badCredentials("\(source): Auth-Key rejected (\(queryStatus ?? "HTTP \(response.status)"))")
        }
        if response.status == 429 {
            throw .rateLimited(retryAfter: response.retryAfter(), "\(source): rate limited (HTTP 429)")
        }
        guard response.status == 200 else { throw .http(status: response.status, "\(source): HTTP \(response.status)") }
        guard let document else { throw .malformed("\(source): answer is not valid JSON") }
        guard let queryStatus else { throw .malformed("\(source): answer has no query_status") }
        return (queryStatus, document)
    }

    static func formEncoded(_ fields: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return fields.map { name, value in
            "\(name)=\(value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value)"
        }.joined(separator: "&")
    }

    /// `"2019-01-15 07:09:01 UTC"` → `"2019-01-15T07:09:01Z"`; other forms are kept as given.
    static func isoTime(_ value: JSONValue?) -> String? {
        guard let text = value?.stringValue, !text.isEmpty else { return nil }
        let parts = text.replacingOccurrences(of: " UTC", with: "").split(separator: " ")
        guard parts.count == 2 else { return text }
        return "\(parts[0])T\(parts[1])Z"
    }
}

/// URLhaus (docs/sources.md): `POST /v1/host/`, `/v1/url/`, `/v1/payload/` with form bodies.
public struct URLhausSource: ThreatIntelSource {
    public let name = "urlhaus"
    public let supportedTypes: Set<IndicatorType> = [.ipv4, .domain, .url, .md5, .sha256]
    public let isExternal = true
    public let settings: ProviderSettings
    let http: ProviderHTTPClient

    public static let defaultBaseURL = "https://urlhaus-api.abuse.ch/v1"

    public init(settings: ProviderSettings, http: ProviderHTTPClient = ProviderHTTPClient()) {
        self.settings = settings
        self.http = http
    }

    public var settingsFingerprint: String { settings.fingerprint }

    public func lookUp(_ indicator: Indicator) async throws -> SourceResult {
        let (path, field): (String, String) =
            switch indicator.type {
            case .url: ("url", "url")
            case .md5: ("payload", "md5_hash")
            case .sha256: ("payload", "sha256_hash")
            default: ("host", "host")
            }
        let (status, document) = try await AbuseCH.send(
            name,
            settings: settings,
            http: http,
            url: "\(settings.baseURL)/\(path)/",
            form: [(field, indicator.value)]
        )
        guard status == "ok" else {
            if status == "no_results" { return .notFound(name) }
            throw SourceError.malformed("urlhaus: query_status \(status)")
        }
        var result: SourceResult
        switch path {
        case "url":
            // Online now is the strongest claim; an offline URL was still malware-serving.
            let online = document["url_status"]?.stringValue
            let score = online == "online" ? 100 : online == "offline" ? 70 : 60
            result = .found(
                name,
                verdict: score >= 70 ? .malicious : .suspicious,
                score: score,
                evidence: "\(document["threat"]?.stringValue ?? "listed"), \(online ?? "unknown")",
                categories: [document["threat"]?.stringValue].compactMap { $0 },
                link: document["urlhaus_reference"]?.stringValue,
                details: .object([
                    ("url_status", document["url_status"] ?? .null), ("reporter", document["reporter"] ?? .null),
                ])
            )
            result.firstSeen = AbuseCH.isoTime(document["date_added"])
            result.lastSeen = AbuseCH.isoTime(document["last_online"])
        case "payload":
            result = .found(
                name,
                verdict: .malicious,
                score: 100,
                evidence: document["signature"]?.stringValue ?? "payload",
                categories: ["malware"],
                link: document["urlhaus_download"].flatMap { _ in
                    "https://urlhaus.abuse.ch/browse.php?search=\(indicator.value)"
                },
                details: .object([
                    ("file_type", document["file_type"] ?? .null), ("signature", document["signature"] ?? .null),
                ])
            )
            result.firstSeen = AbuseCH.isoTime(document["firstseen"])
            result.lastSeen = AbuseCH.isoTime(document["lastseen"])
        default:
            let urls = document["urls"]?.arrayValue ?? []
            let online = urls.filter { $0["url_status"]?.stringValue == "online" }.count
            let score = online > 0 ? 90 : 60
            let threats = Array(Set(urls.compactMap { $0["threat"]?.stringValue })).sorted()
            result = .found(
                name,
                verdict: score >= 70 ? .malicious : .suspicious,
                score: score,
                evidence: "\(document["url_count"]?.intValue ?? urls.count) URLs, \(online) online",
                categories: threats,
                link: document["urlhaus_reference"]?.stringValue,
                details: .object([
                    ("url_count", .number(String(document["url_count"]?.intValue ?? urls.count))),
                    ("online", .number(String(online))),
                ])
            )
            result.firstSeen = AbuseCH.isoTime(document["firstseen"])
        }
        result.tags = (document["tags"]?.arrayValue ?? []).compactMap(\.stringValue)
        return result
    }
}

/// ThreatFox (docs/sources.md): `POST /api/v1/` with JSON `search_ioc` or `search_hash`.
public struct ThreatFoxSource: ThreatIntelSource {
    public let name = "threatfox"
    public let supportedTypes: Set<IndicatorType> = [.ipv4, .domain, .url, .md5, .sha256]
    public let isExternal = true
    public let settings: ProviderSettings
    let http: ProviderHTTPClient

    public static let defaultBaseURL = "https://threatfox-api.abuse.ch/api/v1"

    public init(settings: ProviderSettings, http: ProviderHTTPClient = ProviderHTTPClient()) {
        self.settings = settings
        self.http = http
    }

    public var settingsFingerprint: String { settings.fingerprint }

    public func lookUp(_ indicator: Indicator) async throws -> SourceResult {
        let query: JSONValue =
            indicator.type.isHash
            ? .object([("query", .string("search_hash")), ("hash", .string(indicator.value))])
            : .object([("query", .string("search_ioc")), ("search_term", .string(indicator.value))])
        let (status, document) = try await AbuseCH.send(
            name,
            settings: settings,
            http: http,
            url: "\(settings.baseURL)/",
            json: query
        )
        guard status == "ok" else {
            if status == "no_result" || status == "no_results" { return .notFound(name) }
            throw SourceError.malformed("threatfox: query_status \(status)")
        }
        // `data` is an array on success (and a string on no_result, handled above).
        guard let rows = document["data"]?.arrayValue, !rows.isEmpty else { return .notFound(name) }
        let confidence = rows.compactMap { $0["confidence_level"]?.intValue }.max() ?? 50
        let score = max(50, confidence)  // a ThreatFox listing is an explicit claim of badness
        let threatTypes = Array(Set(rows.compactMap { $0["threat_type"]?.stringValue })).sorted()
        let malware = Array(Set(rows.compactMap { $0["malware_printable"]?.stringValue })).sorted()
        let first = rows.compactMap { AbuseCH.isoTime($0["first_seen"]) }.min()
        let last = rows.compactMap { AbuseCH.isoTime($0["last_seen"]) }.max()
        var result = SourceResult.found(
            name,
            verdict: score >= 70 ? .malicious : .suspicious,
            score: score,
            evidence: ([threatTypes.first] + [malware.first]).compactMap { $0 }.joined(separator: " "),
            categories: threatTypes,
            link: rows.first?["id"]?.scalarText.map { "https://threatfox.abuse.ch/ioc/\($0)/" },
            details: .object([
                ("malware", .array(malware.map(JSONValue.string))), ("iocs", .number(String(rows.count))),
                ("confidence_level", .number(String(confidence))),
            ])
        )
        result.firstSeen = first
        result.lastSeen = last
        result.tags = Array(Set(rows.flatMap { $0["tags"]?.arrayValue ?? [] }.compactMap(\.stringValue))).sorted()
        return result
    }
}

/// MalwareBazaar (docs/sources.md): `POST /api/v1/` form `query=get_info&hash=`.
public struct MalwareBazaarSource: ThreatIntelSource {
    public let name = "malwarebazaar"
    public let supportedTypes: Set<IndicatorType> = [.md5, .sha1, .sha256]
    public let isExternal = true
    public let settings: ProviderSettings
    let http: ProviderHTTPClient

    public static let defaultBaseURL = "https://mb-api.abuse.ch/api/v1"

    public init(settings: ProviderSettings, http: ProviderHTTPClient = ProviderHTTPClient()) {
        self.settings = settings
        self.http = http
    }

    public var settingsFingerprint: String { settings.fingerprint }

    public func lookUp(_ indicator: Indicator) async throws -> SourceResult {
        let (status, document) = try await AbuseCH.send(
            name,
            settings: settings,
            http: http,
            url: "\(settings.baseURL)/",
            form: [("query", "get_info"), ("hash", indicator.value)]
        )
        guard status == "ok" else {
            if status == "hash_not_found" || status == "no_results" { return .notFound(name) }
            throw SourceError.malformed("malwarebazaar: query_status \(status)")
        }
        guard let sample = document["data"]?.arrayValue?.first else { return .notFound(name) }
        let signature = sample["signature"]?.stringValue
        // MalwareBazaar only accepts confirmed malware.
        var result = SourceResult.found(
            name,
            verdict: .malicious,
            score: 100,
            evidence: signature ?? "sample",
            categories: ["malware"],
            link: sample["sha256_hash"]?.stringValue.map { "https://bazaar.abuse.ch/sample/\($0)/" },
            details: .object([
                ("signature", sample["signature"] ?? .null), ("file_name", sample["file_name"] ?? .null),
                ("file_type", sample["file_type"] ?? .null), ("delivery_method", sample["delivery_method"] ?? .null),
            ])
        )
        result.firstSeen = AbuseCH.isoTime(sample["first_seen"])
        result.lastSeen = AbuseCH.isoTime(sample["last_seen"])
        result.tags = (sample["tags"]?.arrayValue ?? []).compactMap(\.stringValue)
        return result
    }
}
