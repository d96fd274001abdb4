import VerdictCore
import VerdictEngine

/// An `analyst_override` row as both databases store it.
public struct OverrideRow: Sendable {
    public var type: String
    public var value: String
    public var verdict: String
    public var reason: String?
    public var author: String
    public var createdAt: Double
    public var expiresAt: Double?

    public init(
        type: String,
        value: String,
        verdict: String,
        reason: String?,
        author: String,
        createdAt: Double,
        expiresAt: Double?
    ) {
        self.type = type
        self.value = value
        self.verdict = verdict
        self.reason = reason
        self.author = author
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }

    /// Nil for a row no version of Verdict writes (a type or verdict it does not know).
    public var override: AnalystOverride? {
        guard let type = IndicatorType(rawValue: type), let verdict = Verdict(rawValue: verdict) else { return nil }
        return AnalystOverride(
            indicator: Indicator(type: type, value: value),
            verdict: verdict,
            reason: reason,
            author: author,
            createdAt: createdAt,
            expiresAt: expiresAt
        )
    }
}
