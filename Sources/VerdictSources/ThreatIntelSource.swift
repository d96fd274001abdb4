import VerdictCore

/// One threat-intelligence source: a provider's API, or a local feed.
///
/// An adapter maps the provider's own answer to a `SourceResult` (`found` or `notFound`) and throws a
/// `SourceError` for everything else; the `SourceGovernor` turns errors, quotas and deadlines into the
/// per-source statuses of docs/contracts.md §2, so adapters stay about the provider's format.
///
/// ```swift
/// struct MyFeed: ThreatIntelSource {
///     let name = "myfeed"
///     let supportedTypes: Set<IndicatorType> = [.ipv4]
///     let settingsFingerprint = "v1"
///     let isExternal = false
///     func lookUp(_ indicator: Indicator) async throws -> SourceResult { .notFound(name) }
/// }
/// ```
public protocol ThreatIntelSource: Sendable {
    /// Lowercase name used in requests, results, settings and metrics (`virustotal`).
    var name: String { get }
    var supportedTypes: Set<IndicatorType> { get }
    /// Changes whenever a setting that can change answers changes (key, base URL, options), so cached
    /// answers from other settings are not reused.
    var settingsFingerprint: String { get }
    /// Whether a lookup reaches an outside service (and so costs credits).
    var isExternal: Bool { get }

    func lookUp(_ indicator: Indicator) async throws -> SourceResult
    /// An answer at hand without waiting (a source that keeps recent answers in memory), with when it stops
    /// holding (seconds since 1970); nil when there is none.
    func immediateResult(for indicator: Indicator) -> (result: SourceResult, expiresAt: Double)?
}

extension ThreatIntelSource {
    public func immediateResult(for indicator: Indicator) -> (result: SourceResult, expiresAt: Double)? { nil }
}

/// Why a source gave no answer.
public struct SourceError: Error, Sendable, Equatable, CustomStringConvertible {
    enum Kind: Equatable {
        case rateLimited(retryAfter: Duration?)
        case badCredentials
        case http(status: Int)
        case malformed
        case transport
        case timeout
    }

    let kind: Kind
    /// For people: what happened, never containing a key.
    public let description: String
    /// What the provider's answer said of its own quota, when it did.
    public var providerQuota: ProviderQuota?

    /// The provider answered 429 (or its own quota error); `retryAfter` from its `Retry-After` header.
    public static func rateLimited(retryAfter: Duration?, _ message: String) -> SourceError {
        SourceError(kind: .rateLimited(retryAfter: retryAfter), description: message)
    }

    public static func badCredentials(_ message: String) -> SourceError {
        SourceError(kind: .badCredentials, description: message)
    }

    public static func http(status: Int, _ message: String) -> SourceError {
        SourceError(kind: .http(status: status), description: message)
    }

    /// An answer that could not be read as the provider's format.
    public static func malformed(_ message: String) -> SourceError {
        SourceError(kind: .malformed, description: message)
    }

    public static func transport(_ message: String) -> SourceError {
        SourceError(kind: .transport, description: message)
    }

    public static func timeout(after milliseconds: Int) -> SourceError {
        SourceError(kind: .timeout, description: "timeout after \(milliseconds) ms")
    }

    /// How long the provider asked us to wait, when it said so.
    public var retryAfter: Duration? {
        if case .rateLimited(let retryAfter) = kind { return retryAfter }
        return nil
    }

    /// The provider refused the value itself (HTTP 400, 404, 414, 422): the input's fault, not the source's.
    public var isCausedByInput: Bool {
        if case .http(let status) = kind { return [400, 404, 414, 422].contains(status) }
        return false
    }

    public var isRateLimit: Bool {
        if case .rateLimited = kind { return true }
        return false
    }
}
