/// One lookup a key made, kept so that the console shows it again after a reload or to a colleague with the
/// same key: when, what was asked, and the answer's results.
public struct LookupHistoryEntry: Sendable, Equatable {
    /// Assigned by the store.
    public var id: Int64
    public var keyID: Int64
    /// Seconds since 1970.
    public var at: Double
    /// The indicators' values, in the answer's order.
    public var indicators: [String]
    /// The worst verdict among the results (`malicious` first, `suppressed` last).
    public var verdict: String
    public var creditsCharged: Int
    /// The answer's `results` array, as JSON text.
    public var results: String

    public init(
        id: Int64 = 0,
        keyID: Int64,
        at: Double,
        indicators: [String],
        verdict: String,
        creditsCharged: Int,
        results: String
    ) {
        self.id = id
        self.keyID = keyID
        self.at = at
        self.indicators = indicators
        self.verdict = verdict
        self.creditsCharged = creditsCharged
        self.results = results
    }
}

/// The recent lookups of each key (`GET /v1/history`), bounded per key by count and by age.
public protocol LookupHistoryStore: Sendable {
    /// Keeps `entry` and forgets that key's entries beyond its newest `keep` or older than `notBefore`; the new
    /// entry's id.
    func record(_ entry: LookupHistoryEntry, keep: Int, notBefore: Double) async throws -> Int64
    /// The key's newest entries first, at most `limit`, none older than `notBefore`.
    func recent(keyID: Int64, limit: Int, notBefore: Double) async throws -> [LookupHistoryEntry]
}
