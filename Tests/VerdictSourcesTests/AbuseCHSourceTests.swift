import Testing
import VerdictCore
import VerdictSources
import VerdictTestSupport

struct AbuseCHSourceTests {
    static func urlhaus(_ settings: ProviderSettings, _ http: ProviderHTTPClient) -> any ThreatIntelSource {
        URLhausSource(settings: settings, http: http)
    }

    static func threatfox(_ settings: ProviderSettings, _ http: ProviderHTTPClient) -> any ThreatIntelSource {
        ThreatFoxSource(settings: settings, http: http)
    }

    static func bazaar(_ settings: ProviderSettings, _ http: ProviderHTTPClient) -> any ThreatIntelSource {
        MalwareBazaarSource(settings: settings, http: http)
    }

    let host = Indicator(type: .domain, value: "bad.example.com")
    let sha256 = Indicator(type: .sha256, value: "094fd325049b8a9cf6d3e5ef2a6d4cc6a567d7d49c35f8bb8dd9e3c6acf3d78d")

    @Test func urlhausHostURLAndPayload() async throws {
        let hostBody = #"""
            {"query_status":"ok","urlhaus_reference":"https://urlhaus.abuse.ch/host/bad.example.com/","host":"bad.example.com",
             "firstseen":"2019-01-15 07:09:01 UTC","url_count":"120","blacklists":{"spamhaus_dbl":"not listed","surbl":"not listed"},
             "urls":[{"id":"121319","url":"http://bad.example.com/5016223.exe","url_status":"online","date_added":"2019-02-11 07:45:05 UTC",
                      "threat":"malware_download","reporter":"abuse_ch","larted":"false","takedown_time_seconds":"","tags":["AZORult","exe"]}]}
            """#
        let (result, requests) = try await ProviderHarness.lookUp(
            host,
            reply: { _ in .json(200, hostBody) },
            makeSource: Self.urlhaus
        )
        #expect(result.status == .ok && result.verdict == .malicious && result.score == 90)
        #expect(result.evidence == "120 URLs, 1 online")
        #expect(result.categories == ["malware_download"])
        #expect(result.firstSeen == "2019-01-15T07:09:01Z")
        #expect(requests.first?.uri == "/host/")
        #expect(requests.first?.method == "POST")
        #expect(requests.first?.bodyText == "host=bad.example.com")
        #expect(requests.first?.headers["auth-key"] == "test-key-123")

        let urlBody = #"""
            {"query_status":"ok","id":"105821","urlhaus_reference":"https://urlhaus.abuse.ch/url/105821/","url":"http://bad.example.com/INV/",
             "url_status":"offline","host":"bad.example.com","date_added":"2019-01-19 01:33:26 UTC","last_online":null,"threat":"malware_download",
             "reporter":"Cryptolaemus1","larted":"true","takedown_time_seconds":null,"tags":["emotet","heodo"],"payloads":[]}
            """#
        let url = Indicator(type: .url, value: "http://bad.example.com/INV/?a=1&b=2")
        let (urlResult, urlRequests) = try await ProviderHarness.lookUp(
            url,
            reply: { _ in .json(200, urlBody) },
            makeSource: Self.urlhaus
        )
        #expect(urlResult.score == 70 && urlResult.verdict == .malicious)
        #expect(urlResult.tags == ["emotet", "heodo"])
        #expect(urlResult.lastSeen == nil)
        #expect(urlRequests.first?.bodyText == "url=http%3A%2F%2Fbad.example.com%2FINV%2F%3Fa%3D1%26b%3D2")

        let none = #"{"query_status":"no_results"}"#
        let (missing, _) = try await ProviderHarness.lookUp(
            sha256,
            reply: { _ in .json(200, none) },
            makeSource: Self.urlhaus
        )
        #expect(missing.status == .notFound)
    }

    @Test func threatfoxListingsAndItsStringDataOnNoResult() async throws {
        let body = #"""
            {"query_status":"ok","data":[{"id":"1337","ioc":"198.51.100.104:443","threat_type":"botnet_cc","ioc_type":"ip:port",
             "malware":"win.cobalt_strike","malware_printable":"Cobalt Strike","malware_alias":null,"confidence_level":75,
             "first_seen":"2020-12-06 09:10:23 UTC","last_seen":null,"reference":null,"reporter":"abuse_ch","tags":null}]}
            """#
        let address = Indicator(type: .ipv4, value: "198.51.100.104")
        let (result, requests) = try await ProviderHarness.lookUp(
            address,
            reply: { _ in .json(200, body) },
            makeSource: Self.threatfox
        )
        #expect(result.verdict == .malicious && result.score == 75)
        #expect(result.evidence == "botnet_cc Cobalt Strike")
        #expect(result.link == "https://threatfox.abuse.ch/ioc/1337/")
        #expect(result.firstSeen == "2020-12-06T09:10:23Z")
        #expect(requests.first?.bodyText == #"{"query":"search_ioc","search_term":"198.51.100.104"}"#)

        let (hashResult, hashRequests) = try await ProviderHarness.lookUp(
            sha256,
            reply: { _ in .json(200, body) },
            makeSource: Self.threatfox
        )
        #expect(hashResult.status == .ok)
        #expect(hashRequests.first?.bodyText.hasPrefix(#"{"query":"search_hash","hash":"094fd3"#) == true)

        let none = #"{"query_status":"no_result","data":"Your search did not yield any results"}"#
        let (missing, _) = try await ProviderHarness.lookUp(
            address,
            reply: { _ in .json(200, none) },
            makeSource: Self.threatfox
        )
        #expect(missing.status == .notFound)
    }

    @Test func malwareBazaarSamples() async throws {
        let body = #"""
            {"query_status":"ok","data":[{"sha256_hash":"094fd325049b8a9cf6d3e5ef2a6d4cc6a567d7d49c35f8bb8dd9e3c6acf3d78d",
             "md5_hash":"2f6432c5af8d10b04caed90d410ec7ad","first_seen":"2020-02-28 15:04:14","last_seen":null,"file_name":"invoice.exe",
             "file_size":472064,"file_type":"exe","signature":"AgentTesla","tags":["AgentTesla","exe"],"delivery_method":"email_attachment",
             "intelligence":{"clamav":null,"downloads":"125","uploads":"1","mail":null}}]}
            """#
        let (result, requests) = try await ProviderHarness.lookUp(
            sha256,
            reply: { _ in .json(200, body) },
            makeSource: Self.bazaar
        )
        #expect(result.verdict == .malicious && result.score == 100 && result.evidence == "AgentTesla")
        #expect(
            result.link
                == "https://bazaar.abuse.ch/sample/094fd325049b8a9cf6d3e5ef2a6d4cc6a567d7d49c35f8bb8dd9e3c6acf3d78d/"
        )
        #expect(result.firstSeen == "2020-02-28T15:04:14Z")
        #expect(requests.first?.bodyText == "query=get_info&hash=\(sha256.value)")
        let (missing, _) = try await ProviderHarness.lookUp(
            sha256,
            reply: { _ in .json(200, #"{"query_status":"hash_not_found"}"#) },
            makeSource: Self.bazaar
        )
        #expect(missing.status == .notFound)
    }

    static func maker(_ name: String) -> (ProviderSettings, ProviderHTTPClient) -> any ThreatIntelSource {
        switch name {
        case "urlhaus": urlhaus
        case "threatfox": threatfox
        default: bazaar
        }
    }

    @Test(arguments: ["urlhaus", "threatfox", "malwarebazaar"])
    func badKeysAndRateLimits(_ name: String) async throws {
        let make = Self.maker(name)
        for status in [401, 403] {
            let (result, _) = try await ProviderHarness.lookUp(
                sha256,
                reply: { _ in .json(status, #"{"query_status":"unknown_auth_key"}"#) },
                makeSource: make
            )
            #expect(result.status == .error)
            #expect(result.error == "\(name): Auth-Key rejected (unknown_auth_key)")
        }
        let (limited, _) = try await ProviderHarness.lookUp(
            sha256,
            reply: { _ in .json(429, "{}", headers: [("Retry-After", "7")]) },
            makeSource: make
        )
        #expect(limited.status == .quotaExhausted)
        #expect(limited.error?.hasPrefix("\(name): rate limited (HTTP 429); waiting 7 s (until 20") == true)
        let (plain, _) = try await ProviderHarness.lookUp(sha256, reply: { _ in .raw(429, []) }, makeSource: make)
        #expect(plain.error?.hasPrefix("\(name): rate limited (HTTP 429); waiting 60 s (until 20") == true)
        try await ProviderHarness.expectSurvivesCommonFailures(sha256, source: name, makeSource: make)
    }
}

struct InternetDBSourceTests {
    static func make(_ settings: ProviderSettings, _ http: ProviderHTTPClient) -> any ThreatIntelSource {
        InternetDBSource(settings: settings, http: http)
    }

    let address = Indicator(type: .ipv6, value: "2001:4860:4860::8888")

    @Test func contextAndItsFewBadTags() async throws {
        let plain =
            #"{"ip":"198.51.100.7","ports":[22,80,443],"hostnames":["host.example.com"],"cpes":[],"tags":["cloud"],"vulns":["CVE-2021-23017"]}"#
        let (result, requests) = try await ProviderHarness.lookUp(
            address,
            reply: { _ in .json(200, plain) },
            makeSource: Self.make
        )
        #expect(result.status == .ok && result.verdict == .unknown && result.score == 0)
        #expect(result.evidence == "3 open ports")
        #expect(result.tags == ["cloud"])
        #expect(requests.first?.uri == "/2001:4860:4860::8888")
        #expect(requests.first?.headers["authorization"] == nil)

        let compromised =
            #"{"ip":"198.51.100.7","ports":[],"hostnames":[],"cpes":[],"tags":["compromised"],"vulns":[]}"#
        let (bad, _) = try await ProviderHarness.lookUp(
            address,
            reply: { _ in .json(200, compromised) },
            makeSource: Self.make
        )
        #expect(bad.verdict == .suspicious && bad.score == 50 && bad.categories == ["compromised"])

        let (missing, _) = try await ProviderHarness.lookUp(
            address,
            reply: { _ in .json(404, #"{"detail":"No information available"}"#) },
            makeSource: Self.make
        )
        #expect(missing.status == .notFound)
        let (limited, _) = try await ProviderHarness.lookUp(
            address,
            reply: { _ in .json(429, "{}") },
            makeSource: Self.make
        )
        #expect(limited.status == .quotaExhausted)
        let (invalid, _) = try await ProviderHarness.lookUp(
            address,
            reply: { _ in .json(422, #"{"detail":"Invalid IP"}"#) },
            makeSource: Self.make
        )
        #expect(invalid.error == "internetdb: HTTP 422 (Invalid IP)")
        try await ProviderHarness.expectSurvivesCommonFailures(address, source: "internetdb", makeSource: Self.make)
    }
}
