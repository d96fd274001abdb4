import VerdictCore
import VerdictSources

extension EnrichmentEngine {
    /// What a reader of these reports should know that the reports cannot say: indicator types that no outside
    /// source that is on (or that was chosen) looks up. Their `unknown` means "not asked", not "nothing known".
    ///
    /// - Parameter sources: the sources the caller chose; every source that is on when nil.
    public func coverageWarnings(for reports: [IndicatorReport], sources: Set<String>? = nil) -> [String] {
        let needed = Set(reports.filter { $0.verdict != .suppressed }.map(\.indicator.type))
        guard !needed.isEmpty else { return [] }
        let outside = governors(named: sources).map(\.source).filter(\.isExternal)
        let covered = outside.reduce(into: Set<IndicatorType>()) { $0.formUnion($1.supportedTypes) }
        let missing = IndicatorType.allCases.filter { needed.contains($0) && !covered.contains($0) }
        guard !missing.isEmpty else { return [] }
        let types = missing.map(\.rawValue).joined(separator: ", ")
        if sources != nil {
            return [
                "none of the chosen sources looks up \(types) values, so their verdict comes from local feeds and the cache only; leave \"sources\" out to ask every source that is on"
            ]
        }
        let on =
            outside.isEmpty
            ? "no outside source is on"
            : "the outside sources on (\(outside.map(\.name).joined(separator: ", "))) do not look up \(types)"
        return [
            "\(on), so the verdict for \(types) values comes from local feeds and the cache only. Turn sources on with their keys: \(EngineConfiguration.sourceKeySettings); `verdict lookup --explain` lists each source and why it is off"
        ]
    }
}

extension EnrichmentEngine {
    /// Whether some chosen outside source takes this value's type, and the value is not suppressed.
    public func canAskOutside(_ indicator: Indicator, sources: Set<String>? = nil) -> Bool {
        if case .suppressed = suppressor.assess(indicator) { return false }
        return governors(named: sources).contains {
            $0.source.isExternal && $0.source.supportedTypes.contains(indicator.type)
        }
    }

    /// Whether an outside source's answer, fresh or from the cache, is in this report.
    public func hasOutsideAnswer(_ report: IndicatorReport) -> Bool {
        let outside = Set(governors.filter(\.source.isExternal).map(\.source.name))
        return report.sources.contains { outside.contains($0.source) && $0.isProviderAnswer }
    }
}
