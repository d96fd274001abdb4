/// Verdict's version, in one place: `verdict --version`, `/v1/health`, `/openapi.json` and the release packages
/// (scripts/package.sh reads it from `verdict --version`).
public let verdictVersion = "0.5.0"

/// How bad an indicator is, for one source or for all of them together (docs/contracts.md §2).
public enum Verdict: String, Sendable, Codable, CaseIterable, Comparable {
    case malicious, suspicious, harmless, unknown, suppressed

    /// Badness order for sorting: malicious first.
    var rank: Int {
        switch self {
        case .malicious: 0
        case .suspicious: 1
        case .harmless: 2
        case .unknown: 3
        case .suppressed: 4
        }
    }

    public static func < (lhs: Verdict, rhs: Verdict) -> Bool { lhs.rank < rhs.rank }
}

public enum Confidence: String, Sendable, Codable, CaseIterable {
    case low, medium, high
}

/// What became of one source's part in a lookup.
public enum SourceStatus: String, Sendable, Codable, CaseIterable {
    /// The source answered with a record.
    case ok
    /// The source answered and has no record of the value.
    case notFound = "not_found"
    /// Timeout, transport failure, bad key, server error or an answer that could not be read.
    case error
    /// The source does not handle this indicator type, or is not configured.
    case skipped
    /// A rate window or the provider's own 429 says no more calls for now; the source was not asked.
    case quotaExhausted = "quota_exhausted"
    /// The source failed too often recently and is being left alone.
    case circuitOpen = "circuit_open"

    /// The source gave no answer it could have given (`error`, `quota_exhausted`, `circuit_open`): what events
    /// list as `error_sources` and what the retry queue waits out.
    public var isUnanswered: Bool { self == .error || self == .quotaExhausted || self == .circuitOpen }
}

/// One source's answer about one indicator, normalised (docs/contracts.md §3).
/// A provider's own account of its quota, from its answer's headers.
public struct ProviderQuota: Sendable, Equatable {
    /// The calls the quota allows in its period, when the provider says.
    public var limit: Int?
    /// Calls left, this one counted.
    public var remaining: Int
    /// When the period ends (seconds since 1970), when the provider says.
    public var resetsAt: Double?

    public init(limit: Int?, remaining: Int, resetsAt: Double?) {
        self.limit = limit
        self.remaining = remaining
        self.resetsAt = resetsAt
    }
}

public struct SourceResult: Sendable, Equatable {
    public var source: String
    public var status: SourceStatus
    public var verdict: Verdict?
    /// 0-100, how bad according to this source.
    public var score: Int?
    public var categories: [String]
    public var tags: [String]
    public var firstSeen: String?
    public var lastSeen: String?
    /// Where an analyst can read the source's own page about the value.
    public var link: String?
    /// A short phrase for summaries: `14/94`, `botnet_cc`, `100`.
    public var evidence: String?
    /// Source-specific facts worth keeping (counts, names, ASN).
    public var details: JSONValue
    /// For `error`, `quota_exhausted`, `circuit_open` and `skipped`: what happened, for people.
    public var error: String?
    public var latencyMilliseconds: Int?
    /// For `error`: the provider answered, refusing this value (HTTP 400, 404, 414 or 422). The call reached it
    /// and spent its quota, so it is charged like an answer, and it says nothing about the source's health.
    public var rejectedByProvider = false
    /// What the provider's answer said of its own quota (AbuseIPDB's and MISP's rate-limit headers): the shared
    /// source budget takes it as the truth. Never shown or cached.
    public var providerQuota: ProviderQuota?

    /// The provider answered about this value (found, not found, or refused it): what credits are charged for.
    public var isProviderAnswer: Bool { status == .ok || status == .notFound || rejectedByProvider }

    public init(
        source: String,
        status: SourceStatus,
        verdict: Verdict? = nil,
        score: Int? = nil,
        categories: [String] = [],
        tags: [String] = [],
        firstSeen: String? = nil,
        lastSeen: String? = nil,
        link: String? = nil,
        evidence: String? = nil,
        details: JSONValue = .object([]),
        error: String? = nil,
        latencyMilliseconds: Int? = nil
    ) {
        self.source = source
        self.status = status
        self.verdict = verdict
        self.score = score.map { min(100, max(0, $0)) }
        self.categories = categories
        self.tags = tags
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
        self.link = link
        self.evidence = evidence
        self.details = details
        self.error = error
        self.latencyMilliseconds = latencyMilliseconds
    }

    /// A source that answered with a record.
    public static func found(
        _ source: String,
        verdict: Verdict,
        score: Int,
        evidence: String? = nil,
        categories: [String] = [],
        link: String? = nil,
        details: JSONValue = .object([])
    ) -> SourceResult {
        SourceResult(
            source: source,
            status: .ok,
            verdict: verdict,
            score: score,
            categories: categories,
            link: link,
            evidence: evidence,
            details: details
        )
    }

    /// A source that answered without a record.
    public static func notFound(_ source: String) -> SourceResult {
        SourceResult(source: source, status: .notFound, verdict: .unknown, score: 0)
    }

    /// A source that took no part, and why.
    public static func failed(_ source: String, _ status: SourceStatus, _ message: String) -> SourceResult {
        SourceResult(source: source, status: status, error: message)
    }
}
