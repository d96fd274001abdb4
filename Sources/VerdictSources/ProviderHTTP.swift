import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import VerdictCore

/// A provider's HTTP answer, read whole (up to a size limit).
public struct ProviderResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The first header of that name, ignoring case.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    /// The provider's own count from `X-RateLimit-*` (AbuseIPDB, dfirlab) or `X-Rate-Limit-*` (MISP) headers;
    /// nil when it sends none. A reset under 10^9 is seconds from now (MISP), else a Unix time (AbuseIPDB).
    public func statedQuota(now: Double = Date().timeIntervalSince1970) -> ProviderQuota? {
        func number(_ suffix: String) -> Double? {
            (header("X-RateLimit-" + suffix) ?? header("X-Rate-Limit-" + suffix)).flatMap {
                Double($0.trimmingCharacters(in: .whitespaces))
            }
        }
        guard let remaining = number("Remaining"), remaining >= 0, remaining < 1e12 else { return nil }
        let reset = number("Reset").flatMap { $0 >= 0 && $0 < 1e12 ? $0 : nil }
        let limit = number("Limit").flatMap { $0 >= 0 && $0 < 1e12 ? Int($0) : nil }
        return ProviderQuota(
            limit: limit,
            remaining: Int(remaining),
            resetsAt: reset.map { $0 < 1e9 ? now + $0 : $0 }
        )
    }

    /// The body as JSON, or nil when it is not JSON (HTML error pages from proxies and CDNs are common).
    public var json: JSONValue? { try? JSONValue(parsing: body) }

    /// How long the provider asked us to wait: `Retry-After` in seconds or as an HTTP date.
    public func retryAfter(now: Date = Date()) -> Duration? {
        guard let value = header("Retry-After")?.trimmingCharacters(in: .whitespaces) else { return nil }
        if let seconds = Int(value) { return .seconds(max(0, seconds)) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: value) else { return nil }
        return .seconds(max(0, Int(date.timeIntervalSince(now).rounded(.up))))
    }
}

/// The one HTTP client every adapter shares, with the limits every provider call needs.
public struct ProviderHTTPClient: Sendable {
    /// What every client that carries a provider key needs: redirects are never followed, since a followed
    /// redirect would send the key's header to whatever host the answer names.
    public static func configuration() -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        return configuration
    }

    /// Made on the first request (a static is lazy), so a process answered wholly from the cache (a
    /// custom-verdict run) never starts its event loops. Like AsyncHTTPClient's own shared client, it lives
    /// as long as the process.
    static let sharedNoRedirects = HTTPClient(
        eventLoopGroup: HTTPClient.defaultEventLoopGroup,
        configuration: configuration()
    )

    /// nil: the shared client above.
    private let ownClient: HTTPClient?
    var client: HTTPClient { ownClient ?? Self.sharedNoRedirects }
    /// Answers larger than this are refused rather than read into memory.
    public var maxBodyBytes: Int
    /// An upper bound per request; the governor's deadline is usually shorter.
    public var timeout: Duration

    public init(client: HTTPClient? = nil, maxBodyBytes: Int = 4 << 20, timeout: Duration = .seconds(10)) {
        self.ownClient = client
        self.maxBodyBytes = maxBodyBytes
        self.timeout = timeout
    }

    /// Sends one request. Errors name the source and what went wrong, never the URL's query or headers
    /// (they can hold keys).
    public func send(
        source: String,
        method: HTTPMethod = .GET,
        url: String,
        headers: [(String, String)] = [],
        body: [UInt8]? = nil
    ) async throws(SourceError) -> ProviderResponse {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "User-Agent", value: "verdict/1 (+https://github.com/verdict-ti)")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let host = URL(string: url)?.host ?? "the provider"
        do {
            let response = try await client.execute(request, timeout: .milliseconds(Int64(timeout.milliseconds)))
            if (300..<400).contains(response.status.code) {
                let target = response.headers.first(name: "Location").flatMap {
                    URL(string: $0, relativeTo: URL(string: url))?.host
                }
                throw SourceError.http(
                    status: Int(response.status.code),
                    "\(source): \(host) answered HTTP \(response.status.code), a redirect to \(target ?? "another address"); Verdict never follows a redirect with a key: check the source's URL setting"
                )
            }
            let buffer = try await response.body.collect(upTo: maxBodyBytes)
            return ProviderResponse(
                status: Int(response.status.code),
                headers: response.headers.map { ($0.name, $0.value) },
                body: Array(buffer.readableBytesView)
            )
        } catch let error as SourceError {
            throw error
        } catch is NIOTooManyBytesError {
            throw .malformed("\(source): answer larger than \(maxBodyBytes / 1_048_576) MB")
        } catch is CancellationError {
            throw .timeout(after: timeout.milliseconds)
        } catch let error as HTTPClientError
            where error == .deadlineExceeded || error == .readTimeout || error == .cancelled
        {
            throw .timeout(after: timeout.milliseconds)
        } catch let error as HTTPClientError where error == .connectTimeout {
            throw .transport("\(source): cannot connect to \(host) (connect timeout)")
        } catch let error as HTTPClientError where error == .remoteConnectionClosed {
            throw .transport("\(source): \(host) closed the connection before answering")
        } catch {
            throw .transport("\(source): cannot reach \(host) (\(ProviderHTTPClient.describe(error)))")
        }
    }

    static func describe(_ error: any Error) -> String {
        let text = String(describing: error)
        if text.contains("connectionRefused") || text.contains("Connection refused") { return "connection refused" }
        if text.lowercased().contains("ssl") || text.lowercased().contains("certificate") {
            return "TLS failure: \(text.prefix(160))"
        }
        return String(text.prefix(160))
    }
}

/// The settings every provider adapter takes.
public struct ProviderSettings: Sendable {
    public var apiKey: String?
    public var baseURL: String

    public init(apiKey: String?, baseURL: String) {
        self.apiKey = apiKey
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
    }

    /// Identifies these settings in cache keys without revealing the key: FNV-1a over URL and key.
    public var fingerprint: String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in (baseURL + "\u{0}" + (apiKey ?? "")).utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01B3
        }
        return String(hash, radix: 16)
    }
}

extension JSONValue {
    /// An integer from a number or a numeric string (several providers send numbers as strings).
    var intValue: Int? {
        switch self {
        case .number(let text): Int(text) ?? Double(text).map { Int($0) }
        case .string(let text): Int(text.trimmingCharacters(in: .whitespaces))
        case .bool(let flag): flag ? 1 : 0
        default: nil
        }
    }

    var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    var boolValue: Bool? {
        switch self {
        case .bool(let flag): flag
        case .string(let text): text.lowercased() == "true" ? true : text.lowercased() == "false" ? false : nil
        default: nil
        }
    }

    var arrayValue: [JSONValue]? {
        if case .array(let elements) = self { return elements }
        return nil
    }
}

/// The ISO 8601 form of a Unix time in seconds (`2026-12-01T12:00:00Z`), as results carry first and last sightings
/// and budget messages say until when.
public func isoDate(unixSeconds seconds: Int) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.timeZone = TimeZone(identifier: "UTC")
    return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
}

extension ProviderResponse {
    /// Throws the right `SourceError` for any status but 200: a bad key, a rate limit (with its
    /// `Retry-After`), or the status with the provider's own error text when it gave one.
    func requireOK(source: String, badKeyStatuses: Set<Int> = [401, 403], providerMessage: String?) throws(SourceError)
    {
        guard status != 200 else { return }
        let detail = providerMessage.map { " (\($0.prefix(200)))" } ?? ""
        if badKeyStatuses.contains(status) {
            throw .badCredentials("\(source): API key rejected (HTTP \(status))\(detail)")
        }
        if status == 429 {
            var error = SourceError.rateLimited(retryAfter: retryAfter(), "\(source): rate limited (HTTP 429)\(detail)")
            error.providerQuota = statedQuota()
            throw error
        }
        throw .http(status: status, "\(source): HTTP \(status)\(detail)")
    }

    /// The body as a JSON object, or a `malformed` error naming the source.
    func jsonObject(source: String) throws(SourceError) -> JSONValue {
        guard let document = json, case .object = document else {
            throw .malformed("\(source): answer is not valid JSON")
        }
        return document
    }
}
