import Foundation
import Synchronization
import VerdictCore
import VerdictSources

/// How long answers stay fresh, in seconds. Errors and quota answers are never cached.
public struct CacheLifetimes: Sendable, Equatable {
    public var found: Double
    public var notFound: Double

    public init(found: Double = 86_400, notFound: Double = 43_200) {
        self.found = found
        self.notFound = notFound
    }
}

/// Everything known about one indicator after a lookup (docs/contracts.md §2).
public struct IndicatorReport: Sendable, Equatable {
    public var indicator: Indicator
    /// The text the caller gave, when it differs from the canonical value.
    public var input: String?
    public var verdict: Verdict
    public var score: Int
    public var confidence: Confidence
    public var summary: String
    public var categories: [String]
    /// Every source's part answered from the cache.
    public var cached: Bool
    /// Age of the oldest cached part, in seconds.
    public var ageSeconds: Int
    public var sources: [SourceResult]
    /// Why a suppressed value was not looked up.
    public var reason: String?
    /// Annotate-policy warninglists the value is on.
    public var warninglists: [String]
    /// Whether an outside service answered during this lookup (ok, not_found, or a refusal of the value
    /// itself): what credits are charged for. Cache hits, suppressed values, local-only answers and lookups
    /// where every outside source failed (timeouts, outages, quota) are free.
    public var answeredByExternalSource: Bool
}

/// The lookup pipeline every part of Verdict shares: suppression first (no source ever sees a suppressed
/// value), then the cache, then single-flight, then a concurrent fan-out through each source's governor,
/// then aggregation, then the cache write.
public final class EnrichmentEngine: Sendable {
    public let governors: [SourceGovernor]
    public let suppressor: Suppressor
    public let cache: any LookupCache
    public let aggregator: VerdictAggregator
    public let lifetimes: CacheLifetimes
    /// Failures of the cache and budget stores, counted for `/metrics`.
    public let health: StoreHealth
    /// The analysts' overrides in force: they win over every source.
    public let overrides: OverrideBook
    private let now: @Sendable () -> Double
    private let flights = SingleFlight<CacheKey, SourceResult>()
    private let memo = ReportMemo()

    public init(
        governors: [SourceGovernor],
        suppressor: Suppressor = Suppressor(),
        cache: any LookupCache = MemoryLookupCache(),
        aggregator: VerdictAggregator = VerdictAggregator(weights: SourceCatalog.defaultWeights),
        lifetimes: CacheLifetimes = CacheLifetimes(),
        health: StoreHealth = StoreHealth(),
        overrides: OverrideBook = OverrideBook(),
        now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }
    ) {
        self.governors = governors
        self.overrides = overrides
        self.health = health
        self.suppressor = suppressor
        self.cache = cache
        self.aggregator = aggregator
        self.lifetimes = lifetimes
        self.now = now
    }

    /// The names of the configured sources.
    public var sourceNames: [String] { governors.map(\.source.name) }

    /// Looks several indicators up concurrently; the reports come back in the order given.
    ///
    /// - Parameters:
    ///   - sources: only these sources (by name); all when nil.
    ///   - refresh: ask the sources again even when the cache holds a fresh answer.
    public func lookUp(
        _ indicators: [(indicator: Indicator, input: String?)],
        sources: Set<String>? = nil,
        refresh: Bool = false
    ) async -> [IndicatorReport] {
        // Reports that need no waiting (suppressed, or every part in memory) are made here; only the rest
        // get a task each. A cached batch then costs no task at all.
        var reports = [IndicatorReport?](repeating: nil, count: indicators.count)
        var pending: [Int] = []
        for (position, item) in indicators.enumerated() {
            if let report = immediateReport(item.indicator, input: item.input, sources: sources, refresh: refresh) {
                reports[position] = report
            } else {
                pending.append(position)
            }
        }
        guard !pending.isEmpty else { return reports.map { $0! } }
        return await withTaskGroup(of: (Int, IndicatorReport).self) { group in
            for position in pending {
                let item = indicators[position]
                group.addTask {
                    (
                        position,
                        await self.askSources(item.indicator, input: item.input, sources: sources, refresh: refresh)
                    )
                }
            }
            for await (position, report) in group { reports[position] = report }
            return reports.map { $0! }
        }
    }

    public func lookUp(
        _ indicator: Indicator,
        input: String? = nil,
        sources requested: Set<String>? = nil,
        refresh: Bool = false
    ) async -> IndicatorReport {
        if let report = immediateReport(indicator, input: input, sources: requested, refresh: refresh) {
            return report
        }
        return await askSources(indicator, input: input, sources: requested, refresh: refresh)
    }

    /// The part of a lookup that waits: the store, then the sources, for a value that is not suppressed.
    func askSources(
        _ indicator: Indicator,
        input: String?,
        sources requested: Set<String>?,
        refresh: Bool
    ) async -> IndicatorReport {
        let indicator = indicator.withoutCredentials
        let shownInput = input == indicator.value ? nil : input
        let warninglists: [String]
        if case .lookUp(let lists) = suppressor.assess(indicator) { warninglists = lists } else { warninglists = [] }
        let chosen = governors(named: requested)
        let parts = await askAll(chosen, about: indicator, refresh: refresh)
        return report(indicator, input: shownInput, parts: parts, warninglists: warninglists)
    }

    /// Every report at once when none needs waiting (suppressed values and answers in memory); nil otherwise.
    /// Callers that guard lookups with a deadline use it to skip arming a timer for answers already at hand.
    public func immediateReports(
        _ indicators: [(indicator: Indicator, input: String?)],
        sources: Set<String>? = nil
    ) -> [IndicatorReport]? {
        var reports: [IndicatorReport] = []
        reports.reserveCapacity(indicators.count)
        for item in indicators {
            guard let report = immediateReport(item.indicator, input: item.input, sources: sources, refresh: false)
            else { return nil }
            reports.append(report)
        }
        return reports
    }

    /// The report when it needs no waiting: the value is suppressed, or (without `refresh`) every chosen
    /// source's answer is in memory. Nil when a source must be asked or the store read.
    func immediateReport(
        _ indicator: Indicator,
        input: String?,
        sources requested: Set<String>?,
        refresh: Bool
    ) -> IndicatorReport? {
        // Every lookup starts here or in askSources: a URL's credentials never reach a source or a cache key,
        // and the report (so the API's answer and the Wazuh event) names the URL without them.
        let indicator = indicator.withoutCredentials
        let shownInput = input == indicator.value ? nil : input
        if let override = overrides.override(for: indicator, at: now()) {
            return overrideReport(override, for: indicator, input: shownInput)
        }
        let warninglists: [String]
        switch suppressor.assess(indicator) {
        case .suppressed(let reason):
            return IndicatorReport(
                indicator: indicator,
                input: shownInput,
                verdict: .suppressed,
                score: 0,
                confidence: .high,
                summary: "not looked up: \(reason)",
                categories: [],
                cached: false,
                ageSeconds: 0,
                sources: [],
                reason: reason,
                warninglists: [],
                answeredByExternalSource: false
            )
        case .lookUp(let lists):
            warninglists = lists
        }
        guard !refresh else { return nil }
        // Read the generation before the answers: an answer written meanwhile makes this memo stale.
        let generation = cache.memoryGeneration
        let memoKey = ReportMemo.Key(indicator: indicator, sources: requested)
        if let generation, var memoized = memo.report(for: memoKey, generation: generation, now: now()) {
            memoized.input = shownInput
            return memoized
        }
        guard let cached = immediateParts(governors(named: requested), indicator: indicator) else { return nil }
        let built = report(indicator, input: shownInput, parts: cached, warninglists: warninglists)
        // A local part of a moment ago ends the memo with it (`expiresAt`): a sync shows within seconds.
        if let generation {
            let expiresAt = cached.compactMap(\.expiresAt).min() ?? .infinity
            let oldest = cached.compactMap(\.cachedAt).min() ?? now()
            memo.remember(built, for: memoKey, generation: generation, expiresAt: expiresAt, oldestStoredAt: oldest)
        }
        return built
    }

    /// The report an analyst's override makes: its verdict, named in the summary, asked of no source.
    func overrideReport(_ override: AnalystOverride, for indicator: Indicator, input: String?) -> IndicatorReport {
        let score = override.verdict == .malicious ? 100 : 0
        var details: [(key: String, value: JSONValue)] = [
            ("author", .string(override.author)), ("created_at", .number(String(Int(override.createdAt)))),
        ]
        if let reason = override.reason { details.append(("reason", .string(reason))) }
        if let expiresAt = override.expiresAt { details.append(("expires_at", .number(String(Int(expiresAt))))) }
        if override.indicator != indicator { details.append(("covers", .string(override.indicator.value))) }
        return IndicatorReport(
            indicator: indicator,
            input: input,
            verdict: override.verdict,
            score: score,
            confidence: .high,
            summary: override.summary,
            categories: [],
            cached: false,
            ageSeconds: 0,
            sources: [
                .found(
                    "analyst",
                    verdict: override.verdict,
                    score: score,
                    evidence: override.reason,
                    details: .object(details)
                )
            ],
            reason: nil,
            warninglists: [],
            answeredByExternalSource: false
        )
    }

    /// Whether looking this indicator up now would ask an outside source: it is not suppressed, and some chosen
    /// external source that takes its type has no fresh cached answer. The server reserves credits from this
    /// before the lookup, and settles with `answeredByExternalSource` after it.
    public func needsExternalLookup(
        _ indicator: Indicator,
        sources requested: Set<String>? = nil,
        refresh: Bool = false
    ) async -> Bool {
        let indicator = indicator.withoutCredentials
        if overrides.override(for: indicator, at: now()) != nil { return false }
        if case .suppressed = suppressor.assess(indicator) { return false }
        for governor in governors(named: requested) {
            let source = governor.source
            guard source.isExternal, source.supportedTypes.contains(indicator.type) else { continue }
            if refresh { return true }
            let key = CacheKey(source: source.name, indicator: indicator, fingerprint: source.settingsFingerprint)
            if let hit = cache.immediateAnswer(for: key), hit.expiresAt > now() { continue }
            if await freshAnswer(for: key) == nil { return true }
        }
        return false
    }

    func governors(named requested: Set<String>?) -> [SourceGovernor] {
        requested.map { names in governors.filter { names.contains($0.source.name) } } ?? governors
    }

    /// Every source's part straight from memory, or nil when any source must be asked (or read from disk).
    func immediateParts(_ chosen: [SourceGovernor], indicator: Indicator) -> [Part]? {
        let time = now()
        var parts: [Part] = []
        parts.reserveCapacity(chosen.count)
        for governor in chosen {
            let source = governor.source
            guard source.supportedTypes.contains(indicator.type) else {
                let skipped = SourceResult.failed(
                    source.name,
                    .skipped,
                    "\(source.name) does not look up \(indicator.type.rawValue)"
                )
                parts.append(Part(result: skipped, askedUpstream: false, isExternal: source.isExternal))
                continue
            }
            // The local index is not in the answer cache; its source may have the answer of a moment ago.
            guard source.isExternal else {
                guard let recent = source.immediateResult(for: indicator) else { return nil }
                parts.append(
                    Part(result: recent.result, expiresAt: recent.expiresAt, askedUpstream: false, isExternal: false)
                )
                continue
            }
            let key = CacheKey(source: source.name, indicator: indicator, fingerprint: source.settingsFingerprint)
            guard let hit = cache.immediateAnswer(for: key), hit.expiresAt > time else { return nil }
            parts.append(
                Part(
                    result: hit.result,
                    cachedAt: hit.storedAt,
                    expiresAt: hit.expiresAt,
                    askedUpstream: false,
                    isExternal: source.isExternal
                )
            )
        }
        return parts
    }

    func askAll(_ chosen: [SourceGovernor], about indicator: Indicator, refresh: Bool) async -> [Part] {
        await withTaskGroup(of: (Int, Part).self) { group in
            for (position, governor) in chosen.enumerated() {
                group.addTask { (position, await self.ask(governor, about: indicator, refresh: refresh)) }
            }
            var parts = [Part?](repeating: nil, count: chosen.count)
            for await (position, part) in group { parts[position] = part }
            return parts.map { $0! }
        }
    }

    func report(_ indicator: Indicator, input shownInput: String?, parts: [Part], warninglists: [String])
        -> IndicatorReport
    {
        let results = parts.map(\.result)
        let aggregate = aggregator.aggregate(results)
        let answered = parts.filter { $0.result.status == .ok || $0.result.status == .notFound }
        // The local index is read on every lookup: whether a report is "cached" is the outside sources' word.
        let answeredOutside = answered.filter(\.isExternal)
        let cachedParts = answeredOutside.compactMap(\.cachedAt)
        let time = now()
        return IndicatorReport(
            indicator: indicator,
            input: shownInput,
            verdict: aggregate.verdict,
            score: aggregate.score,
            confidence: aggregate.confidence,
            summary: aggregate.summary,
            categories: aggregate.categories,
            cached: !answeredOutside.isEmpty && cachedParts.count == answeredOutside.count,
            ageSeconds: cachedParts.map { max(0, Int(time - $0)) }.max() ?? 0,
            sources: results,
            reason: nil,
            warninglists: warninglists,
            answeredByExternalSource: parts.contains {
                $0.askedUpstream && $0.isExternal && $0.result.isProviderAnswer
            }
        )
    }

    struct Part: Sendable {
        var result: SourceResult
        /// When the answer was stored, if it came from the cache.
        var cachedAt: Double?
        /// When the cached answer expires (immediate answers only).
        var expiresAt: Double? = nil
        var askedUpstream: Bool
        var isExternal: Bool
    }

    /// One source's answer: a fresh cached one, or one upstream call shared by everyone asking now.
    func ask(_ governor: SourceGovernor, about indicator: Indicator, refresh: Bool) async -> Part {
        let source = governor.source
        let isExternal = source.isExternal
        guard source.supportedTypes.contains(indicator.type) else {
            return Part(result: await governor.lookUp(indicator), askedUpstream: false, isExternal: isExternal)
        }
        // The local index changes under a running process (a feed sync, an edited list): its answers are read
        // anew each time, never cached, and cost one indexed query.
        guard isExternal else {
            if !refresh, let recent = source.immediateResult(for: indicator) {
                return Part(result: recent.result, askedUpstream: false, isExternal: false)
            }
            return Part(result: await governor.lookUp(indicator), askedUpstream: true, isExternal: false)
        }
        let key = CacheKey(source: source.name, indicator: indicator, fingerprint: source.settingsFingerprint)
        if !refresh, let hit = await freshAnswer(for: key) {
            return Part(result: hit.result, cachedAt: hit.storedAt, askedUpstream: false, isExternal: isExternal)
        }
        var fromCache: CachedAnswer?
        var askedUpstream = false
        let result = await flights.run(key) {
            // Whoever waited for an earlier run finds its answer here.
            if !refresh, let hit = await freshAnswer(for: key) {
                fromCache = hit
                return hit.result
            }
            askedUpstream = true
            let result = await governor.lookUp(indicator)
            await remember(result, for: key)
            return result
        }
        return Part(result: result, cachedAt: fromCache?.storedAt, askedUpstream: askedUpstream, isExternal: isExternal)
    }

    func freshAnswer(for key: CacheKey) async -> CachedAnswer? {
        guard let answer = await cache.answer(for: key), answer.expiresAt > now() else { return nil }
        return answer
    }

    func remember(_ result: SourceResult, for key: CacheKey) async {
        let lifetime: Double
        switch result.status {
        case .ok: lifetime = lifetimes.found
        case .notFound: lifetime = lifetimes.notFound
        default: return  // errors and quota answers are never cached
        }
        guard lifetime > 0 else { return }
        let time = now()
        var stored = result
        stored.latencyMilliseconds = nil
        await cache.store(CachedAnswer(result: stored, storedAt: time, expiresAt: time + lifetime), for: key)
    }
}

/// Reports built entirely from memory-cached answers, kept until any cached answer changes (the cache's
/// generation moves) or the first of their answers expires: a repeated lookup then costs one table read.
final class ReportMemo: Sendable {
    struct Key: Hashable, Sendable {
        var indicator: Indicator
        var sources: Set<String>?
    }

    struct Entry: Sendable {
        var report: IndicatorReport
        var generation: UInt64
        var expiresAt: Double
        var oldestStoredAt: Double
    }

    /// Past this many reports the memo starts over: it is a shortcut, not a store.
    static let capacity = 100_000
    private let entries = Mutex<[Key: Entry]>([:])

    func report(for key: Key, generation: UInt64, now: Double) -> IndicatorReport? {
        guard let entry = entries.withLock({ $0[key] }), entry.generation == generation, now < entry.expiresAt else {
            return nil
        }
        var report = entry.report
        report.ageSeconds = max(0, Int(now - entry.oldestStoredAt))
        return report
    }

    func remember(
        _ report: IndicatorReport,
        for key: Key,
        generation: UInt64,
        expiresAt: Double,
        oldestStoredAt: Double
    ) {
        entries.withLock { entries in
            if entries.count >= ReportMemo.capacity { entries.removeAll(keepingCapacity: true) }
            entries[key] = Entry(
                report: report,
                generation: generation,
                expiresAt: expiresAt,
                oldestStoredAt: oldestStoredAt
            )
        }
    }
}
