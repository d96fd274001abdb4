import Testing
import VerdictCore
import VerdictEngine
import VerdictSources

struct SourceGovernorTests {
    let address = Indicator(type: .ipv4, value: "185.220.101.4")

    func found(_ name: String) -> FakeSource.Behaviour {
        .answer(.found(name, verdict: .malicious, score: 100))
    }

    @Test func unsupportedTypesAreSkippedWithoutACall() async {
        let source = FakeSource("abuseipdb", types: [.ipv4])
        let governor = SourceGovernor(source: source)
        let result = await governor.lookUp(Indicator(type: .sha256, value: String(repeating: "ab", count: 32)))
        #expect(result.status == .skipped)
        #expect(result.error == "abuseipdb does not look up sha256")
        #expect(source.callCount == 0)
    }

    @Test func severalWindowsHoldAtOnce() async {
        // VirusTotal's free plan: 4 a minute and 500 a day (here 6 a day, to reach it quickly).
        let clock = ManualClock()
        let source = FakeSource("virustotal", behaviour: found("virustotal"))
        let policy = GovernorPolicy(windows: [.perMinute(4), .perDay(6)])
        let governor = SourceGovernor(source: source, policy: policy, now: clock.function)
        var statuses: [SourceStatus] = []
        for _ in 0..<5 { statuses.append(await governor.lookUp(address).status) }
        #expect(statuses == [.ok, .ok, .ok, .ok, .quotaExhausted])
        #expect(source.callCount == 4)
        let refused = await governor.lookUp(address)
        #expect(refused.error == "virustotal quota of 4 per minute used (until 2027-01-15T08:01:00Z)")

        clock.advance(60)
        statuses = []
        for _ in 0..<3 { statuses.append(await governor.lookUp(address).status) }
        #expect(statuses == [.ok, .ok, .quotaExhausted])
        #expect(
            (await governor.lookUp(address)).error == "virustotal quota of 6 per day used (until 2027-01-16T00:00:00Z)"
        )
        clock.advance(86_400)
        #expect((await governor.lookUp(address)).status == .ok)
    }

    @Test func windowsHoldUnderConcurrency() async {
        let source = FakeSource("virustotal", behaviour: found("virustotal"), delay: .milliseconds(5))
        let governor = SourceGovernor(
            source: source,
            policy: GovernorPolicy(maxConcurrent: 8, windows: [.perMinute(10)])
        )
        let statuses = await withTaskGroup(of: SourceStatus.self) { group in
            for _ in 0..<50 { group.addTask { await governor.lookUp(address).status } }
            return await group.reduce(into: [SourceStatus]()) { $0.append($1) }
        }
        #expect(statuses.filter { $0 == .ok }.count == 10)
        #expect(statuses.filter { $0 == .quotaExhausted }.count == 40)
        #expect(source.callCount == 10)
        #expect(source.peakConcurrency <= 8)
    }

    @Test func aProviders429BlocksUntilItsRetryAfter() async {
        let clock = ManualClock()
        let source = FakeSource(
            "abuseipdb",
            behaviour: .fail(.rateLimited(retryAfter: .seconds(30), "abuseipdb: HTTP 429"))
        )
        let governor = SourceGovernor(source: source, now: clock.function)
        let first = await governor.lookUp(address)
        #expect(first.status == .quotaExhausted)
        #expect(first.error == "abuseipdb: HTTP 429; waiting 30 s (until 2027-01-15T08:00:30Z)")
        source.set(found("abuseipdb"))
        let second = await governor.lookUp(address)
        #expect(second.status == .quotaExhausted)
        #expect(second.error == "abuseipdb asked to wait 30 s more (until 2027-01-15T08:00:30Z)")
        #expect(source.callCount == 1)
        clock.advance(30)
        #expect((await governor.lookUp(address)).status == .ok)

        source.set(.fail(.rateLimited(retryAfter: nil, "abuseipdb: HTTP 429")))
        #expect(
            (await governor.lookUp(address)).error == "abuseipdb: HTTP 429; waiting 60 s (until 2027-01-15T08:01:30Z)"
        )
        #expect(await governor.circuitState == "closed")  // a quota is not a failure
    }

    @Test func theCircuitOpensAndProbesOnce() async {
        let clock = ManualClock()
        let source = FakeSource("misp", behaviour: .fail(.http(status: 500, "misp: HTTP 500")))
        let governor = SourceGovernor(
            source: source,
            policy: GovernorPolicy(failureThreshold: 3, openSeconds: 30),
            now: clock.function
        )
        for _ in 0..<3 { #expect((await governor.lookUp(address)).error == "misp: HTTP 500") }
        #expect(await governor.circuitState == "open")
        let refused = await governor.lookUp(address)
        #expect(refused.status == .circuitOpen)
        #expect(refused.error == "misp failed 3 times in a row; next try in 30 s")
        #expect(source.callCount == 3)

        clock.advance(30)
        #expect((await governor.lookUp(address)).status == .error)  // the probe fails: open again
        #expect(source.callCount == 4)
        #expect((await governor.lookUp(address)).status == .circuitOpen)

        clock.advance(30)
        source.set(.answer(.notFound("misp")))
        #expect((await governor.lookUp(address)).status == .notFound)  // the probe succeeds: closed
        #expect(await governor.circuitState == "closed")
        #expect((await governor.lookUp(address)).status == .notFound)
    }

    /// Any caller can send values a provider refuses (a 9 KB URL gets 414): those answers must never open the
    /// circuit for everyone, and they count as reaching the provider.
    @Test func refusalsOfTheValueNeverOpenTheCircuit() async {
        for status in [400, 404, 414, 422] {
            let source = FakeSource("virustotal", behaviour: .fail(.http(status: status, "virustotal: HTTP \(status)")))
            let governor = SourceGovernor(source: source, policy: GovernorPolicy(failureThreshold: 2))
            for _ in 0..<5 {
                let result = await governor.lookUp(address)
                #expect(result.status == .error && result.rejectedByProvider, "\(status)")
            }
            #expect(await governor.circuitState == "closed", "\(status)")
            #expect(source.callCount == 5)
        }
        let failing = FakeSource("virustotal", behaviour: .fail(.http(status: 503, "virustotal: HTTP 503")))
        let governor = SourceGovernor(source: failing, policy: GovernorPolicy(failureThreshold: 2))
        for _ in 0..<2 { #expect(await governor.lookUp(address).rejectedByProvider == false) }
        #expect(await governor.circuitState == "open", "the provider's own failures still do")
    }

    @Test func aHungSourceCostsOnlyItsDeadline() async {
        let source = FakeSource("otx", behaviour: .hang)
        let governor = SourceGovernor(source: source, policy: GovernorPolicy(deadline: .milliseconds(100)))
        let result = await governor.lookUp(address)
        #expect(result.status == .error)
        #expect(result.error == "timeout after 100 ms")
        // The source hangs for an hour; a bound far under that holds on a loaded 2-core machine.
        #expect((result.latencyMilliseconds ?? .max) < 30_000)
    }

    @Test func theConcurrencyCapQueuesCallsAndTheQueueRespectsTheDeadline() async {
        let source = FakeSource("greynoise", behaviour: .answer(.notFound("greynoise")), delay: .milliseconds(20))
        // A deadline far over the queue's 100 ms, so a loaded machine still answers them all.
        let governor = SourceGovernor(source: source, policy: GovernorPolicy(deadline: .seconds(60), maxConcurrent: 2))
        let statuses = await withTaskGroup(of: SourceStatus.self) { group in
            for _ in 0..<10 { group.addTask { await governor.lookUp(address).status } }
            return await group.reduce(into: [SourceStatus]()) { $0.append($1) }
        }
        #expect(statuses.allSatisfy { $0 == .notFound })
        #expect(source.peakConcurrency == 2)

        let slow = FakeSource("greynoise", behaviour: .hang)
        let queued = SourceGovernor(source: slow, policy: GovernorPolicy(deadline: .milliseconds(50), maxConcurrent: 1))
        let results = await withTaskGroup(of: SourceResult.self) { group in
            for _ in 0..<3 { group.addTask { await queued.lookUp(address) } }
            return await group.reduce(into: [SourceResult]()) { $0.append($1) }
        }
        #expect(results.allSatisfy { $0.error == "timeout after 50 ms" })
        #expect(slow.callCount <= 3)
    }

    @Test func adapterErrorsBecomeClearPerSourceErrors() async {
        let source = FakeSource("threatfox", behaviour: .fail(.malformed("threatfox: answer is not JSON")))
        let result = await SourceGovernor(source: source).lookUp(address)
        #expect(result.status == .error)
        #expect(result.error == "threatfox: answer is not JSON")
        #expect(result.latencyMilliseconds != nil)
    }
}

/// A caller that gives up is not a failure of the source (each case was reproduced before the fix).
struct CancellationTests {
    let address = Indicator(type: .ipv4, value: "185.220.101.4")

    @Test func cancelledLookupsNeverOpenTheCircuit() async {
        let source = FakeSource("otx", behaviour: .hang)
        let governor = SourceGovernor(
            source: source,
            policy: GovernorPolicy(deadline: .seconds(10), failureThreshold: 2)
        )
        for _ in 0..<3 {
            let lookup = Task { await governor.lookUp(address) }
            while source.callCount == 0 { try? await Task.sleep(for: .milliseconds(5)) }
            lookup.cancel()
            let result = await lookup.value
            #expect(result.status == .error)
            #expect(result.error == "otx: the lookup was cancelled before otx answered")
            source.set(.hang)
        }
        #expect(await governor.circuitState == "closed")
        source.set(.answer(.notFound("otx")))
        #expect(await governor.lookUp(address).status == .notFound, "the source is still asked")
    }

    @Test func aCancelledLeaderHandsNothingToTheWaiters() async {
        // The leader's call hangs until it is cancelled, so no loaded machine can let it finish first.
        let source = FakeSource("virustotal", behaviour: .hang)
        let engine = EnrichmentEngine(
            governors: [SourceGovernor(source: source, policy: GovernorPolicy(deadline: .seconds(3600)))]
        )
        let leader = Task { await engine.lookUp(address) }
        while source.callCount == 0 { try? await Task.sleep(for: .milliseconds(5)) }
        source.set(.answer(.notFound("virustotal")))
        let waiter = Task { await engine.lookUp(address) }
        // Let the waiter join the leader's flight before the leader is cancelled.
        try? await Task.sleep(for: .milliseconds(200))
        leader.cancel()
        let cancelled = await leader.value
        let waited = await waiter.value
        #expect(cancelled.sources.first?.status == .error)
        #expect(waited.sources.first?.status == .notFound, "\(waited.sources)")
        #expect(source.callCount == 2, "the waiter asked again rather than take the leader's cancellation")
    }
}
