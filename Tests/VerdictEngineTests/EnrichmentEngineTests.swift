import Testing
import VerdictCore
import VerdictEngine
import VerdictSources

struct EnrichmentEngineTests {
    let address = Indicator(type: .ipv4, value: "185.220.101.4")

    func engine(_ sources: [FakeSource], clock: ManualClock = ManualClock(), deadline: Duration = .seconds(3))
        -> EnrichmentEngine
    {
        EnrichmentEngine(
            governors: sources.map {
                SourceGovernor(source: $0, policy: GovernorPolicy(deadline: deadline), now: clock.function)
            },
            now: clock.function
        )
    }

    @Test func suppressedValuesNeverReachAnySource() async {
        let source = FakeSource("abuseipdb")
        let engine = engine([source])
        let reports = await engine.lookUp([
            (Indicator(type: .ipv4, value: "10.0.0.50"), "10.0.0[.]50"),
            (Indicator(type: .ipv4, value: "8.8.8.8"), nil),
            (Indicator(type: .domain, value: "printer.local"), nil),
        ])
        #expect(reports.map(\.verdict) == [.suppressed, .suppressed, .suppressed])
        #expect(reports.map(\.reason) == ["private", "warninglist:verdict-public-dns-resolvers", "special-name:local"])
        #expect(reports[0].input == "10.0.0[.]50")
        #expect(reports.allSatisfy { $0.sources.isEmpty && !$0.answeredByExternalSource })
        #expect(source.callCount == 0)
    }

    @Test func concurrentLookupsOfOneValueMakeOneUpstreamCallPerSource() async {
        let sources = (1...3).map { FakeSource("source\($0)", delay: .milliseconds(50)) }
        let engine = engine(sources)
        let reports = await withTaskGroup(of: IndicatorReport.self) { group in
            for _ in 0..<100 { group.addTask { await engine.lookUp(address) } }
            return await group.reduce(into: [IndicatorReport]()) { $0.append($1) }
        }
        #expect(reports.count == 100)
        #expect(reports.allSatisfy { $0.sources.allSatisfy { $0.status == .notFound } })
        #expect(sources.map(\.callCount) == [1, 1, 1])
    }

    @Test func aCacheHitMakesNoCallAndReportsItsAge() async {
        let clock = ManualClock()
        let source = FakeSource("abuseipdb", behaviour: .answer(.found("abuseipdb", verdict: .malicious, score: 100)))
        let engine = engine([source], clock: clock)
        let first = await engine.lookUp(address)
        #expect(!first.cached && first.ageSeconds == 0 && first.answeredByExternalSource)
        clock.advance(120)
        let second = await engine.lookUp(address)
        #expect(second.cached)
        #expect(second.ageSeconds == 120)
        #expect(!second.answeredByExternalSource)
        #expect(second.verdict == .malicious)
        #expect(source.callCount == 1)

        let refreshed = await engine.lookUp(address, refresh: true)
        #expect(!refreshed.cached && refreshed.answeredByExternalSource)
        #expect(source.callCount == 2)
    }

    @Test func lifetimesByOutcomeAndErrorsAreNeverCached() async {
        let clock = ManualClock()
        let found = FakeSource("found", behaviour: .answer(.found("found", verdict: .malicious, score: 90)))
        let missing = FakeSource("missing")
        let failing = FakeSource("failing", behaviour: .fail(.http(status: 500, "failing: HTTP 500")))
        let engine = engine([found, missing, failing], clock: clock)
        _ = await engine.lookUp(address)
        clock.advance(12 * 3600 + 1)  // not_found has expired, found has not
        _ = await engine.lookUp(address)
        #expect([found.callCount, missing.callCount, failing.callCount] == [1, 2, 2])
        clock.advance(12 * 3600)  // now found has expired too
        _ = await engine.lookUp(address)
        #expect([found.callCount, missing.callCount, failing.callCount] == [2, 3, 3])
    }

    @Test func aHungSourceCostsOnlyItsDeadlineAndTheOthersStillAnswer() async {
        let hung = FakeSource("misp", behaviour: .hang)
        let quick = FakeSource(
            "threatfox",
            behaviour: .answer(.found("threatfox", verdict: .malicious, score: 100, evidence: "botnet_cc"))
        )
        let report = await engine([hung, quick], deadline: .milliseconds(100)).lookUp(address)
        #expect(report.sources.map(\.status) == [.error, .ok])
        #expect(report.sources[0].error == "timeout after 100 ms")
        #expect(report.verdict == .malicious)
        #expect(report.summary == "1 of 1 sources: malicious (threatfox botnet_cc); no answer from misp (error)")
        #expect(!report.cached)
    }

    @Test func sourceChoiceSkippedTypesAndFingerprints() async {
        let clock = ManualClock()
        let ipOnly = FakeSource("abuseipdb", types: [.ipv4])
        let other = FakeSource("otx")
        let engine = engine([ipOnly, other], clock: clock)
        let onlyOTX = await engine.lookUp(address, sources: ["otx"])
        #expect(onlyOTX.sources.map(\.source) == ["otx"])
        let domain = await engine.lookUp(Indicator(type: .domain, value: "evil-updates.com"))
        #expect(domain.sources.map(\.status) == [.skipped, .notFound])
        #expect(ipOnly.callCount == 0)

        // The same source under other settings (a new key) does not reuse the old answers.
        let rekeyed = FakeSource("otx", fingerprint: "v2")
        let sharedCache = MemoryLookupCache()
        let before = EnrichmentEngine(
            governors: [SourceGovernor(source: other)],
            cache: sharedCache,
            now: clock.function
        )
        let after = EnrichmentEngine(
            governors: [SourceGovernor(source: rekeyed)],
            cache: sharedCache,
            now: clock.function
        )
        _ = await before.lookUp(address)
        #expect((await after.lookUp(address)).cached == false)
        #expect(rekeyed.callCount == 1)
    }

    @Test func repeatedCachedLookupsFollowChangedAnswers() async {
        let clock = ManualClock()
        let source = FakeSource("abuseipdb", behaviour: .answer(.found("abuseipdb", verdict: .malicious, score: 100)))
        let engine = engine([source], clock: clock)
        _ = await engine.lookUp(address)
        clock.advance(10)
        let memoized = await engine.lookUp(address, input: "185.220.101[.]4")
        #expect(memoized.cached && memoized.ageSeconds == 10 && memoized.input == "185.220.101[.]4")
        clock.advance(5)
        #expect((await engine.lookUp(address)).ageSeconds == 15)  // the age moves on
        #expect((await engine.lookUp(address)).input == nil)

        // A refresh that brings a new answer is what the next cached lookup reports.
        source.set(.answer(.notFound("abuseipdb")))
        #expect((await engine.lookUp(address, refresh: true)).verdict == .unknown)
        let after = await engine.lookUp(address)
        #expect(after.verdict == .unknown && after.cached && after.ageSeconds == 0)
        clock.advance(12 * 3600 + 1)  // and an expired answer is asked for again
        #expect((await engine.lookUp(address)).cached == false)
        #expect(source.callCount == 3)
    }

    @Test func localOnlyAnswersReachNoExternalSource() async {
        let local = FakeSource(
            "local",
            behaviour: .answer(.found("local", verdict: .malicious, score: 100)),
            isExternal: false
        )
        let report = await engine([local]).lookUp(address)
        #expect(report.verdict == .malicious)
        #expect(!report.answeredByExternalSource)
    }
}

struct MemoryLookupCacheTests {
    func key(_ value: String) -> CacheKey {
        CacheKey(source: "s", indicator: Indicator(type: .domain, value: value), fingerprint: "f")
    }

    func answer(_ score: Int) -> CachedAnswer {
        CachedAnswer(result: .found("s", verdict: .malicious, score: score), storedAt: 0, expiresAt: 10)
    }

    @Test func evictsTheLeastRecentlyUsed() {
        let cache = MemoryLookupCache(capacity: 2)
        cache.insert(answer(1), for: key("a.com"))
        cache.insert(answer(2), for: key("b.com"))
        _ = cache.cachedAnswer(for: key("a.com"))  // a is now the most recent
        cache.insert(answer(3), for: key("c.com"))
        #expect(cache.cachedAnswer(for: key("b.com")) == nil)
        #expect(cache.cachedAnswer(for: key("a.com"))?.result.score == 1)
        #expect(cache.cachedAnswer(for: key("c.com"))?.result.score == 3)
        cache.insert(answer(4), for: key("a.com"))
        #expect(cache.cachedAnswer(for: key("a.com"))?.result.score == 4)
        #expect(cache.count == 2)
    }
}
