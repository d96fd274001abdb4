import Testing
import VerdictCore
import VerdictSources
import VerdictTestSupport

struct VirusTotalSourceTests {
    static func make(_ settings: ProviderSettings, _ http: ProviderHTTPClient) -> any ThreatIntelSource {
        VirusTotalSource(settings: settings, http: http)
    }

    let address = Indicator(type: .ipv4, value: "198.51.100.23")

    static let maliciousIP = #"""
        {"data":{"id":"198.51.100.23","type":"ip_address","links":{"self":"https://www.virustotal.com/api/v3/ip_addresses/198.51.100.23"},
         "attributes":{"as_owner":"EXAMPLE-HOSTING","asn":64500,"country":"NL","reputation":-11,"tags":[],
          "total_votes":{"harmless":0,"malicious":3},"last_analysis_date":1716200000,
          "last_analysis_stats":{"harmless":55,"malicious":9,"suspicious":1,"undetected":29,"timeout":0}}}}
        """#

    @Test func maliciousAddress() async throws {
        let (result, requests) = try await ProviderHarness.lookUp(
            address,
            reply: { _ in .json(200, Self.maliciousIP) },
            makeSource: Self.make
        )
        #expect(result.status == .ok)
        #expect(result.verdict == .malicious)
        #expect(result.score == 100)
        #expect(result.evidence == "9/94")
        #expect(result.link == "https://www.virustotal.com/gui/ip-address/198.51.100.23")
        #expect(result.lastSeen == "2024-05-20T10:13:20Z")
        #expect(result.details["as_owner"] == .string("EXAMPLE-HOSTING"))
        #expect(requests.first?.uri == "/ip_addresses/198.51.100.23")
        #expect(requests.first?.headers["x-apikey"] == "test-key-123")
    }

    @Test func fileWithThreatClassificationUsesTheFileScale() async throws {
        let body = #"""
            {"data":{"id":"275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f","type":"file","attributes":{
             "md5":"44d88612fea8a8f36de82e1278abb02f","meaningful_name":"eicar.com","first_submission_date":1148301722,
             "last_analysis_date":1716190000,"tags":["text"],
             "last_analysis_stats":{"harmless":0,"type-unsupported":8,"suspicious":0,"confirmed-timeout":0,"timeout":0,"failure":0,"malicious":6,"undetected":5},
             "popular_threat_classification":{"suggested_threat_label":"virus.eicar/test","popular_threat_category":[{"count":40,"value":"virus"}]}}}}
            """#
        let hash = Indicator(type: .md5, value: "44d88612fea8a8f36de82e1278abb02f")
        let (result, requests) = try await ProviderHarness.lookUp(
            hash,
            reply: { _ in .json(200, body) },
            makeSource: Self.make
        )
        #expect(result.score == 60)  // 6 of a scale of 10 for files
        #expect(result.verdict == .suspicious)
        #expect(result.categories == ["virus"])
        #expect(result.tags == ["text"])
        #expect(result.firstSeen == "2006-05-22T12:42:02Z")
        #expect(result.details["threat_label"] == .string("virus.eicar/test"))
        #expect(requests.first?.uri == "/files/44d88612fea8a8f36de82e1278abb02f")
    }

    @Test func urlsUseTheUnpaddedURLSafeIdentifier() async throws {
        let url = Indicator(type: .url, value: "http://evil-updates.com/a?b=c")
        let (_, requests) = try await ProviderHarness.lookUp(
            url,
            reply: { _ in .json(404, #"{"error":{"code":"NotFoundError","message":"x"}}"#) },
            makeSource: Self.make
        )
        #expect(requests.first?.uri == "/urls/aHR0cDovL2V2aWwtdXBkYXRlcy5jb20vYT9iPWM")
    }

    @Test func cleanAndUnanalysedAndNotFound() async throws {
        let clean =
            #"{"data":{"attributes":{"last_analysis_stats":{"harmless":70,"malicious":0,"suspicious":0,"undetected":24}}}}"#
        let (cleanResult, _) = try await ProviderHarness.lookUp(
            address,
            reply: { _ in .json(200, clean) },
            makeSource: Self.make
        )
        #expect(cleanResult.status == .ok && cleanResult.verdict == .unknown && cleanResult.score == 0)
        #expect(cleanResult.evidence == "0/94")

        let empty =
            #"{"data":{"attributes":{"last_analysis_stats":{"harmless":0,"malicious":0,"suspicious":0,"undetected":0}}}}"#
        let (emptyResult, _) = try await ProviderHarness.lookUp(
            address,
            reply: { _ in .json(200, empty) },
            makeSource: Self.make
        )
        #expect(emptyResult.status == .notFound)

        let missing = #"{"error":{"code":"NotFoundError","message":"Resource not found."}}"#
        let (missingResult, _) = try await ProviderHarness.lookUp(
            address,
            reply: { _ in .json(404, missing) },
            makeSource: Self.make
        )
        #expect(missingResult.status == .notFound)
    }

    @Test func badKeyAndQuota() async throws {
        let wrong = #"{"error":{"code":"WrongCredentialsError","message":"Wrong API key"}}"#
        let (badKey, _) = try await ProviderHarness.lookUp(
            address,
            reply: { _ in .json(401, wrong) },
            makeSource: Self.make
        )
        #expect(badKey.status == .error)
        #expect(badKey.error == "virustotal: API key rejected (WrongCredentialsError)")
        #expect(!(badKey.error ?? "").contains("test-key-123"))

        let quota = #"{"error":{"code":"QuotaExceededError","message":"Quota exceeded"}}"#
        let (withRetry, _) = try await ProviderHarness.lookUp(
            address,
            reply: { _ in .json(429, quota, headers: [("Retry-After", "42")]) },
            makeSource: Self.make
        )
        #expect(withRetry.status == .quotaExhausted)
        #expect(
            withRetry.error?.hasPrefix("virustotal: quota exceeded (QuotaExceededError); waiting 42 s (until 20")
                == true
        )
        let (withoutRetry, _) = try await ProviderHarness.lookUp(
            address,
            reply: { _ in .json(429, quota) },
            makeSource: Self.make
        )
        #expect(
            withoutRetry.error?.hasPrefix("virustotal: quota exceeded (QuotaExceededError); waiting 60 s (until 20")
                == true
        )
    }

    @Test(arguments: ProviderHarness.commonFailures.indices)
    func survivesFailure(_ index: Int) async throws {
        let failure = ProviderHarness.commonFailures[index]
        let (result, _) = try await ProviderHarness.lookUp(
            address,
            reply: { _ in failure.reply },
            makeSource: Self.make
        )
        #expect(result.status == failure.status, "\(failure.name)")
        #expect((result.error ?? "").contains(failure.error), "\(failure.name): \(result.error ?? "nil")")
    }

    @Test func redirectsAreNeverFollowedWithTheKey() async throws {
        try await ProviderHarness.expectRefusesRedirects(
            Indicator(type: .ipv4, value: "185.220.101.4"),
            source: "virustotal",
            makeSource: Self.make
        )
    }

    @Test func anUnreachableProviderCostsOnlyTheDeadline() async {
        // AsyncHTTPClient keeps retrying a refused connection until the request's deadline, so a dead
        // provider shows up as the governor's timeout.
        let source = VirusTotalSource(settings: ProviderSettings(apiKey: "k", baseURL: "http://127.0.0.1:9"))
        let result = await SourceGovernor(source: source, policy: GovernorPolicy(deadline: .milliseconds(300)))
            .lookUp(address)
        #expect(result.status == .error)
        #expect(result.error == "timeout after 300 ms")
    }
}
