/// The aggregate verdict about one indicator, with the sources that decided it.
public struct AggregateVerdict: Sendable, Equatable {
    public var verdict: Verdict
    public var score: Int
    public var confidence: Confidence
    /// One line an analyst can trust: which sources said what (`3 of 6 sources: malicious (…)`).
    public var summary: String
    public var categories: [String]
    /// The sources whose answers support the verdict, most convincing first.
    public var decidingSources: [String]
}

/// Folds per-source results into one verdict (docs/contracts.md §3).
///
/// Each answering source adds evidence in proportion to its reliability weight: the aggregate badness is
/// `1 - Π(1 - weight × score / 100)`, so one reliable source can make a value malicious, agreeing sources
/// reinforce each other, and a clean answer never cancels a positive one. A value is `harmless` only on
/// positive evidence of good (a source's own `harmless` verdict, such as GreyNoise RIOT or an allow-list
/// feed), never because sources did not know it.
public struct VerdictAggregator: Sendable {
    /// Reliability per source name, 0...1; sources not listed weigh `defaultWeight`.
    public var weights: [String: Double]
    public var defaultWeight: Double
    /// Scores at or above this are malicious.
    public var maliciousThreshold: Int
    /// Scores at or above this (and below malicious) are suspicious.
    public var suspiciousThreshold: Int

    public init(
        weights: [String: Double] = [:],
        defaultWeight: Double = 0.7,
        maliciousThreshold: Int = 70,
        suspiciousThreshold: Int = 30
    ) {
        self.weights = weights
        self.defaultWeight = defaultWeight
        self.maliciousThreshold = maliciousThreshold
        self.suspiciousThreshold = suspiciousThreshold
    }

    public func weight(of source: String) -> Double {
        min(1, max(0, weights[source] ?? defaultWeight))
    }

    public func aggregate(_ results: [SourceResult]) -> AggregateVerdict {
        let answered = results.filter { $0.status == .ok || $0.status == .notFound }
        let positive = answered.filter { ($0.score ?? 0) > 0 && $0.verdict != .harmless }
            .sorted { weight(of: $0.source) * Double($0.score ?? 0) > weight(of: $1.source) * Double($1.score ?? 0) }
        var clean = 1.0
        for result in positive {
            clean *= 1 - weight(of: result.source) * Double(result.score ?? 0) / 100
        }
        let score = Int((100 * (1 - clean)).rounded())
        let benign = answered.filter { $0.verdict == .harmless }

        let verdict: Verdict
        let deciding: [SourceResult]
        if score >= maliciousThreshold {
            verdict = .malicious
            deciding = positive.filter { ($0.score ?? 0) >= suspiciousThreshold || $0.verdict == .malicious }
        } else if score >= suspiciousThreshold {
            verdict = .suspicious
            deciding = positive
        } else if !benign.isEmpty {
            verdict = .harmless
            deciding = benign
        } else {
            verdict = .unknown
            deciding = []
        }
        let supporters = deciding.isEmpty && verdict == .malicious ? positive : deciding
        return AggregateVerdict(
            verdict: verdict,
            score: score,
            confidence: confidence(verdict, supporters: supporters, answered: answered.count),
            summary: summary(verdict, supporters: supporters, answered: answered.count, all: results),
            categories: categories(of: supporters),
            decidingSources: supporters.map(\.source)
        )
    }

    func confidence(_ verdict: Verdict, supporters: [SourceResult], answered: Int) -> Confidence {
        switch verdict {
        case .malicious, .suspicious, .harmless:
            let strongest = supporters.map { weight(of: $0.source) }.max() ?? 0
            if supporters.count >= 3 || (supporters.count >= 2 && strongest >= 0.8) { return .high }
            return strongest >= 0.8 || supporters.count >= 2 ? .medium : .low
        case .unknown, .suppressed:
            // Many sources that do not know a value say more than one that does not.
            return answered >= 4 ? .medium : .low
        }
    }

    func summary(_ verdict: Verdict, supporters: [SourceResult], answered: Int, all: [SourceResult]) -> String {
        var text: String
        if answered == 0 {
            text = "no source answered"
        } else if supporters.isEmpty {
            text = "0 of \(answered) sources flagged it"
        } else {
            let reasons = supporters.map { result in
                "\(result.source) \(result.evidence ?? result.categories.first ?? String(result.score ?? 0))"
            }
            text =
                "\(supporters.count) of \(answered) sources: \(verdict.rawValue) (\(reasons.joined(separator: ", ")))"
        }
        let failed = all.filter(\.status.isUnanswered)
        if !failed.isEmpty {
            text += "; no answer from " + failed.map { "\($0.source) (\($0.status.rawValue))" }.joined(separator: ", ")
        }
        return text
    }

    /// Categories of the supporting sources, the most often named first.
    func categories(of supporters: [SourceResult]) -> [String] {
        var counts: [String: Int] = [:]
        var order: [String] = []
        for category in supporters.flatMap(\.categories) {
            if counts[category] == nil { order.append(category) }
            counts[category, default: 0] += 1
        }
        return order.enumerated().sorted { lhs, rhs in
            let left = counts[lhs.element]!
            let right = counts[rhs.element]!
            return left != right ? left > right : lhs.offset < rhs.offset
        }.map(\.element)
    }
}
