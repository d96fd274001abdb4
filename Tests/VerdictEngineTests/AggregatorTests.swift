import Testing
import VerdictCore
import VerdictSources

struct AggregatorTests {
    let aggregator = VerdictAggregator(weights: SourceCatalog.defaultWeights)

    @Test func oneReliableSourceMakesItMalicious() {
        let result = aggregator.aggregate([
            .found("abuseipdb", verdict: .malicious, score: 100, evidence: "100"),
            .notFound("otx"),
        ])
        #expect(result.verdict == .malicious)
        #expect(result.score == 80)
        #expect(result.summary == "1 of 2 sources: malicious (abuseipdb 100)")
        #expect(result.decidingSources == ["abuseipdb"])
    }

    @Test func agreeingSourcesReinforceEachOtherAndTheSummaryNamesThem() {
        let result = aggregator.aggregate([
            .found("abuseipdb", verdict: .malicious, score: 100, evidence: "100", categories: ["ssh_bruteforce"]),
            .found("threatfox", verdict: .malicious, score: 100, evidence: "botnet_cc", categories: ["botnet_cc"]),
            .found("virustotal", verdict: .suspicious, score: 45, evidence: "14/94", categories: ["botnet_cc"]),
            .found("internetdb", verdict: .unknown, score: 0),
            .notFound("otx"),
            .notFound("greynoise"),
            .failed("misp", .error, "timeout after 3000 ms"),
        ])
        #expect(result.verdict == .malicious)
        #expect(result.score == 99)
        #expect(result.confidence == .high)
        #expect(
            result.summary
                == "3 of 6 sources: malicious (threatfox botnet_cc, abuseipdb 100, virustotal 14/94); no answer from misp (error)"
        )
        #expect(result.categories == ["botnet_cc", "ssh_bruteforce"])
    }

    @Test func weakEvidenceIsSuspicious() {
        let result = aggregator.aggregate([.found("otx", verdict: .suspicious, score: 50, evidence: "2 pulses")])
        #expect(result.verdict == .suspicious)
        #expect(result.score == 30)
        #expect(result.confidence == .low)
    }

    @Test func harmlessNeedsPositiveEvidenceAndNeverHidesAHit() {
        let benign = aggregator.aggregate([
            .found("greynoise", verdict: .harmless, score: 0, evidence: "riot"), .notFound("abuseipdb"),
        ])
        #expect(benign.verdict == .harmless)
        #expect(benign.summary == "1 of 2 sources: harmless (greynoise riot)")

        let nobodyKnows = aggregator.aggregate([.notFound("abuseipdb"), .notFound("otx")])
        #expect(nobodyKnows.verdict == .unknown)
        #expect(nobodyKnows.summary == "0 of 2 sources flagged it")

        let contested = aggregator.aggregate([
            .found("greynoise", verdict: .harmless, score: 0), .found("threatfox", verdict: .malicious, score: 100),
        ])
        #expect(contested.verdict == .malicious)
    }

    @Test func errorsNeverCountAsAnswers() {
        let result = aggregator.aggregate([
            .failed("virustotal", .quotaExhausted, "quota"), .failed("misp", .circuitOpen, "open"),
            .failed("otx", .skipped, "no key"),
        ])
        #expect(result.verdict == .unknown)
        #expect(
            result.summary == "no source answered; no answer from virustotal (quota_exhausted), misp (circuit_open)"
        )
    }

    @Test func weightsAndThresholdsAreSettings() {
        var strict = VerdictAggregator(weights: ["otx": 1.0], maliciousThreshold: 90, suspiciousThreshold: 50)
        #expect(strict.aggregate([.found("otx", verdict: .malicious, score: 80)]).verdict == .suspicious)
        strict.maliciousThreshold = 80
        #expect(strict.aggregate([.found("otx", verdict: .malicious, score: 80)]).verdict == .malicious)
        #expect(strict.weight(of: "unlisted") == 0.7)
    }
}
