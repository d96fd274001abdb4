import Testing
import VerdictCore
import VerdictSources
import VerdictTestSupport

/// AbuseIPDB, OTX, GreyNoise, MISP, Maltiverse, CrowdSec, OpenCTI and the DFIR platform against their real answer shapes (docs/sources.md).
struct KeyedProviderTests {
    typealias Maker = (ProviderSettings, ProviderHTTPClient) -> any ThreatIntelSource

    static func maker(_ name: String) -> Maker {
        switch name {
        case "abuseipdb": { AbuseIPDBSource(settings: $0, http: $1) }
        case "otx": { OTXSource(settings: $0, http: $1) }
        case "greynoise": { GreyNoiseSource(settings: $0, http: $1) }
        case "misp": { MISPSource(settings: $0, http: $1) }
        case "crowdsec": { CrowdSecSource(settings: $0, http: $1) }
        case "opencti": { OpenCTISource(settings: $0, http: $1) }
        case "dfirlab": { DFIRLabSource(settings: $0, http: $1) }
        default: { MaltiverseSource(settings: $0, http: $1) }
        }
    }

    let address = Indicator(type: .ipv4, value: "198.51.100.39")

    @Test func abuseIPDB() async throws {
        let body = #"""
            {"data":{"ipAddress":"198.51.100.39","isPublic":true,"ipVersion":4,"isWhitelisted":false,"abuseConfidenceScore":100,
             "countryCode":"CN","usageType":"Data Center/Web Hosting/Transit","isp":"Example Cloud","domain":"example.com","hostnames":[],
             "isTor":false,"totalReports":47,"numDistinctUsers":22,"lastReportedAt":"2024-05-29T18:33:12+00:00",
             "reports":[{"reportedAt":"2024-05-29T18:33:12+00:00","comment":"Failed SSH","categories":[18,22],"reporterId":1},
                        {"reportedAt":"2024-05-28T10:00:00+00:00","comment":"","categories":[22],"reporterId":2}]}}
            """#
        let make = Self.maker("abuseipdb")
        let (result, requests) = try await ProviderHarness.lookUp(
            address,
            reply: { _ in .json(200, body) },
            makeSource: make
        )
        #expect(result.verdict == .malicious && result.score == 100 && result.evidence == "100")
        #expect(result.categories == ["ssh", "bruteforce"])
        #expect(result.lastSeen == "2024-05-29T18:33:12+00:00")
        #expect(requests.first?.uri == "/check?ipAddress=198.51.100.39&maxAgeInDays=90&verbose")
        #expect(requests.first?.headers["key"] == "test-key-123")
        #expect(requests.first?.headers["accept"] == "application/json")

        let clean =
            #"{"data":{"ipAddress":"198.51.100.39","isPublic":true,"isWhitelisted":null,"abuseConfidenceScore":0,"totalReports":0,"lastReportedAt":null}}"#
        #expect(
            try await ProviderHarness.lookUp(address, reply: { _ in .json(200, clean) }, makeSource: make).result.status
                == .notFound
        )
        let allowed = #"{"data":{"isPublic":true,"isWhitelisted":true,"abuseConfidenceScore":0,"totalReports":3}}"#
        let (benign, _) = try await ProviderHarness.lookUp(
            address,
            reply: { _ in .json(200, allowed) },
            makeSource: make
        )
        #expect(benign.verdict == .harmless)

        let unauthorized =
            #"{"errors":[{"detail":"Authentication failed. Your API key is either missing, incorrect, or revoked.","status":401}]}"#
        let (badKey, _) = try await ProviderHarness.lookUp(
            address,
            reply: { _ in .json(401, unauthorized) },
            makeSource: make
        )
        #expect(
            badKey.error
                == "abuseipdb: API key rejected (HTTP 401) (Authentication failed. Your API key is either missing, incorrect, or revoked.)"
        )
        let limit =
            #"{"errors":[{"detail":"Daily rate limit of 1000 requests exceeded for this endpoint.","status":429}]}"#
        let (limited, _) = try await ProviderHarness.lookUp(
            address,
            reply: { _ in .json(429, limit, headers: [("Retry-After", "3600"), ("X-RateLimit-Remaining", "0")]) },
            makeSource: make
        )
        #expect(limited.status == .quotaExhausted)
        #expect(
            limited.error?.hasPrefix(
                "abuseipdb: rate limited (HTTP 429) (Daily rate limit of 1000 requests exceeded for this endpoint.); waiting 3600 s (until 20"
            ) == true
        )
    }

    @Test func otx() async throws {
        let body = #"""
            {"indicator":"198.51.100.39","type":"IPv4","sections":["general"],"base_indicator":{},
             "pulse_info":{"count":3,"pulses":[
               {"id":"a","name":"Campaign A","created":"2020-12-11T23:37:51.039000","modified":"2021-01-10T00:02:05.455000","tags":["pushdo"],"malware_families":[{"id":"Pushdo","display_name":"Pushdo"}]},
               {"id":"b","name":"Campaign B","created":"2021-02-01T00:00:00","modified":"2021-03-01T00:00:00","tags":["c2"],"malware_families":[]},
               {"id":"c","name":"Campaign C","created":"2021-04-01T00:00:00","modified":"2021-04-02T00:00:00","tags":[],"malware_families":[]}]},
             "false_positive":[],"validation":[],"reputation":0,"asn":"AS64500 EXAMPLE-NET"}
            """#
        let make = Self.maker("otx")
        let (result, requests) = try await ProviderHarness.lookUp(
            address,
            reply: { _ in .json(200, body) },
            makeSource: make
        )
        #expect(result.verdict == .malicious && result.score == 80 && result.evidence == "3 pulses")
        #expect(result.categories == ["Pushdo"])
        #expect(result.tags == ["c2", "pushdo"])
        #expect(result.firstSeen == "2020-12-11T23:37:51.039000")
        #expect(requests.first?.uri == "/indicators/IPv4/198.51.100.39/general")
        #expect(requests.first?.headers["x-otx-api-key"] == "test-key-123")

        let url = Indicator(type: .url, value: "http://evil-updates.com/a b")
        let (_, urlRequests) = try await ProviderHarness.lookUp(
            url,
            reply: { _ in .json(200, #"{"pulse_info":{"count":0,"pulses":[]},"validation":[]}"#) },
            makeSource: make
        )
        #expect(urlRequests.first?.uri == "/indicators/url/http:%2F%2Fevil-updates.com%2Fa%20b/general")

        let none = #"{"pulse_info":{"count":0,"pulses":[]},"validation":[],"false_positive":[]}"#
        #expect(
            try await ProviderHarness.lookUp(address, reply: { _ in .json(200, none) }, makeSource: make).result.status
                == .notFound
        )
        #expect(
            try await ProviderHarness.lookUp(
                address,
                reply: { _ in .json(404, #"{"detail":"Not found."}"#) },
                makeSource: make
            ).result.status == .notFound
        )
        let validated =
            #"{"pulse_info":{"count":5,"pulses":[]},"validation":[{"source":"majestic","name":"Whitelisted domain","message":"x"}]}"#
        let (benign, _) = try await ProviderHarness.lookUp(
            address,
            reply: { _ in .json(200, validated) },
            makeSource: make
        )
        #expect(benign.verdict == .harmless && benign.evidence == "Whitelisted domain")
        let falsePositive =
            #"{"pulse_info":{"count":5,"pulses":[]},"validation":[],"False_positive":[{"assessment":"accepted"}]}"#
        #expect(
            try await ProviderHarness.lookUp(address, reply: { _ in .json(200, falsePositive) }, makeSource: make)
                .result.verdict == .harmless
        )
        let (badKey, _) = try await ProviderHarness.lookUp(
            address,
            reply: { _ in .json(403, #"{"detail":"Authentication required"}"#) },
            makeSource: make
        )
        #expect(badKey.error == "otx: API key rejected (HTTP 403) (Authentication required)")
    }

    @Test func greyNoise() async throws {
        let make = Self.maker("greynoise")
        let malicious =
            #"{"ip":"198.51.100.39","noise":true,"riot":false,"classification":"malicious","name":"unknown","link":"https://viz.greynoise.io/ip/198.51.100.39","last_seen":"2024-05-20","message":"Success"}"#
        let (result, requests) = try await ProviderHarness.lookUp(
            address,
            reply: { _ in .json(200, malicious) },
            makeSource: make
        )
        #expect(result.verdict == .malicious && result.score == 85 && result.lastSeen == "2024-05-20")
        #expect(requests.first?.uri == "/v3/community/198.51.100.39")
        #expect(requests.first?.headers["key"] == "test-key-123")

        let riot =
            #"{"ip":"8.8.8.8","noise":false,"riot":true,"classification":"benign","name":"Google Public DNS","link":"https://viz.greynoise.io/riot/8.8.8.8","last_seen":"2024-05-20","message":"Success"}"#
        let (benign, _) = try await ProviderHarness.lookUp(address, reply: { _ in .json(200, riot) }, makeSource: make)
        #expect(benign.verdict == .harmless && benign.evidence == "riot")
        let scanner =
            #"{"ip":"198.51.100.39","noise":true,"riot":false,"classification":"unknown","message":"Success"}"#
        #expect(
            try await ProviderHarness.lookUp(address, reply: { _ in .json(200, scanner) }, makeSource: make).result
                .score == 40
        )
        let unseen =
            #"{"ip":"198.51.100.5","noise":false,"riot":false,"message":"IP not observed scanning the internet."}"#
        #expect(
            try await ProviderHarness.lookUp(address, reply: { _ in .json(404, unseen) }, makeSource: make).result
                .status == .notFound
        )
        let (limited, _) = try await ProviderHarness.lookUp(
            address,
            reply: { _ in .json(429, #"{"message":"Rate limit exceeded"}"#) },
            makeSource: make
        )
        #expect(limited.status == .quotaExhausted)
    }

    @Test func misp() async throws {
        let hit = #"""
            {"response":{"Attribute":[{"id":"1234","event_id":"42","category":"Network activity","type":"ip-dst","value":"198.51.100.39",
             "to_ids":true,"timestamp":"1716200000","distribution":"5","comment":"C2 server","deleted":false,
             "Event":{"id":"42","org_id":"1","orgc_id":"1","info":"Example malware campaign C2","uuid":"x"},
             "Tag":[{"id":"7","name":"tlp:amber"},{"id":"12","name":"misp-galaxy:malpedia=\"Emotet\""}]}]}}
            """#
        let make = Self.maker("misp")
        let (result, requests) = try await ProviderHarness.lookUp(
            address,
            reply: { _ in .json(200, hit) },
            makeSource: make
        )
        #expect(result.verdict == .malicious && result.score == 80 && result.evidence == "1 event")
        #expect(result.tags == ["misp-galaxy:malpedia=\"Emotet\"", "tlp:amber"])
        #expect(result.link?.hasSuffix("/events/view/42") == true)
        #expect(requests.first?.method == "POST" && requests.first?.uri == "/attributes/restSearch")
        #expect(requests.first?.headers["authorization"] == "test-key-123")
        #expect(requests.first?.bodyText.contains(#""value":"198.51.100.39""#) == true)

        #expect(
            try await ProviderHarness.lookUp(
                address,
                reply: { _ in .json(200, #"{"response":{"Attribute":[]}}"#) },
                makeSource: make
            ).result.status == .notFound
        )
        let warned = #"""
            {"response":{"Attribute":[{"id":"1","event_id":"9","category":"Network activity","type":"ip-dst","value":"8.8.8.8","to_ids":true,
             "warnings":[{"match":"8.8.8.8/32","value":"8.8.8.8","warninglist_id":"18","warninglist_name":"List of known public DNS resolvers","warninglist_category":"false_positive"}]}]}}
            """#
        #expect(
            try await ProviderHarness.lookUp(address, reply: { _ in .json(200, warned) }, makeSource: make).result
                .verdict == .harmless
        )
        let auth =
            #"{"name":"Authentication failed. Please make sure you pass the API key of an API enabled user along in the Authorization header.","message":"Authentication failed.","url":"/attributes/restSearch"}"#
        let (badKey, _) = try await ProviderHarness.lookUp(address, reply: { _ in .json(403, auth) }, makeSource: make)
        #expect(badKey.error == "misp: API key rejected (HTTP 403) (Authentication failed.)")
        let limit = #"{"name":"Rate limit exceeded.","message":"Rate limit exceeded.","url":"/attributes/restSearch"}"#
        #expect(
            try await ProviderHarness.lookUp(address, reply: { _ in .json(429, limit) }, makeSource: make).result.status
                == .quotaExhausted
        )
        #expect(
            try await ProviderHarness.lookUp(address, reply: { _ in .json(200, #"{"response":{}}"#) }, makeSource: make)
                .result.error == "misp: answer has no response.Attribute"
        )
    }

    @Test func maltiverse() async throws {
        let body = #"""
            {"ip_addr":"198.51.100.98","type":"ip","classification":"malicious",
             "blacklist":[{"source":"Blocklist.de","description":"Mail Spammer","count":1,"first_seen":"2017-11-30 12:39:45","last_seen":"2017-11-30 12:39:45"},
                          {"source":"CIArmy","description":"Malicious Host","count":1,"first_seen":"2020-01-28 00:45:48","last_seen":"2020-01-29 07:10:12"}],
             "tag":["mail","spam"],"as_name":"AS64500 Example","cidr":["198.51.100.0/24"],"country_code":"CN",
             "creation_time":"2017-11-30 12:39:45","modification_time":"2020-02-19 06:34:10"}
            """#
        let make = Self.maker("maltiverse")
        let (result, requests) = try await ProviderHarness.lookUp(
            address,
            reply: { _ in .json(200, body) },
            makeSource: make
        )
        #expect(result.verdict == .malicious && result.score == 85)
        #expect(result.categories == ["Mail Spammer", "Malicious Host"])
        #expect(result.firstSeen == "2017-11-30 12:39:45")
        #expect(requests.first?.headers["authorization"] == "Bearer test-key-123")
        #expect(requests.first?.uri == "/ip/198.51.100.39")

        let url = Indicator(type: .url, value: "http://example.com/")
        let (_, urlRequests) = try await ProviderHarness.lookUp(url, reply: { _ in .json(404, "{}") }, makeSource: make)
        // sha256("http://example.com/"), computed once.
        #expect(urlRequests.first?.uri == "/url/2a1b402420ef46577471cdc7409b0fa2c6a204db316e59ade2d805435489a067")
        let whitelisted = #"{"classification":"whitelisted","blacklist":[]}"#
        #expect(
            try await ProviderHarness.lookUp(address, reply: { _ in .json(200, whitelisted) }, makeSource: make).result
                .verdict == .harmless
        )
        let neutral = #"{"classification":"neutral","blacklist":[{"source":"x","description":"Spam"}]}"#
        #expect(
            try await ProviderHarness.lookUp(address, reply: { _ in .json(200, neutral) }, makeSource: make).result
                .score == 35
        )
    }

    /// CrowdSec's smoke API (providers.md §11), its answer as the CTI documents it.
    @Test func crowdSec() async throws {
        let make = Self.maker("crowdsec")
        let malicious = #"""
            {"ip":"198.51.100.39","reputation":"malicious","confidence":"high","ip_range":"198.51.100.0/22","ip_range_score":5,
             "background_noise":"high","background_noise_score":10,"as_name":"EXAMPLE-AS","as_num":64500,
             "location":{"country":"NL","city":null,"latitude":52.3824,"longitude":4.8995},"reverse_dns":"exit.example.net",
             "behaviors":[{"name":"ssh:bruteforce","label":"SSH Bruteforce","description":"IP has been reported for performing brute force on ssh services."}],
             "history":{"first_seen":"2022-12-26T01:15:00+00:00","last_seen":"2024-07-31T10:00:00+00:00","full_age":585,"days_age":584},
             "classifications":{"false_positives":[],"classifications":[{"name":"proxy:tor","label":"TOR exit node","description":"x"},
               {"name":"community-blocklist","label":"CrowdSec Community Blocklist","description":"x"}]},
             "attack_details":[],"mitre_techniques":[],"cves":[],"target_countries":{"DE":33},
             "scores":{"overall":{"aggressiveness":2,"threat":2,"trust":1,"anomaly":2,"total":4},
                       "last_day":{"aggressiveness":0,"threat":0,"trust":0,"anomaly":2,"total":0}},"references":[]}
            """#
        let (result, requests) = try await ProviderHarness.lookUp(
            address,
            reply: { _ in
                .json(200, malicious, headers: [("X-RateLimit-Limit", "50"), ("X-RateLimit-Remaining", "41")])
            },
            makeSource: make
        )
        #expect(result.verdict == .malicious && result.score == 80, "20 × the overall total, at least 70")
        #expect(result.categories == ["ssh:bruteforce", "proxy:tor", "community-blocklist"])
        #expect(result.firstSeen == "2022-12-26T01:15:00+00:00" && result.lastSeen == "2024-07-31T10:00:00+00:00")
        #expect(result.link == "https://app.crowdsec.net/cti/198.51.100.39")
        #expect(result.providerQuota?.remaining == 41 && result.providerQuota?.limit == 50)
        #expect(requests.first?.uri == "/v2/smoke/198.51.100.39")
        #expect(requests.first?.headers["x-api-key"] == "test-key-123")

        // Good only with positive evidence: a false positive (a known scanner) or "safe".
        let scanner = #"""
            {"ip":"198.51.100.39","reputation":"safe","confidence":"high","behaviors":[],
             "classifications":{"false_positives":[{"name":"seo:crawler","label":"SEO crawler","description":"x"}],"classifications":[]},
             "scores":{"overall":{"total":0}}}
            """#
        let (safe, _) = try await ProviderHarness.lookUp(address, reply: { _ in .json(200, scanner) }, makeSource: make)
        #expect(safe.verdict == .harmless && safe.evidence == "SEO crawler")
        let known =
            #"{"ip":"198.51.100.39","reputation":"known","classifications":{"false_positives":[],"classifications":[{"name":"proxy:vpn","label":"VPN","description":"x"}]}}"#
        let (vpn, _) = try await ProviderHarness.lookUp(address, reply: { _ in .json(200, known) }, makeSource: make)
        #expect(vpn.verdict == .suspicious && vpn.score == 30 && vpn.categories == ["proxy:vpn"])
        // Older answers have no reputation: nothing to say.
        let old =
            #"{"ip":"198.51.100.39","behaviors":[],"classifications":{"false_positives":[],"classifications":[]}}"#
        #expect(
            try await ProviderHarness.lookUp(address, reply: { _ in .json(200, old) }, makeSource: make).result.status
                == .notFound
        )
        let unseen = #"{"message":"IP address information not found"}"#
        #expect(
            try await ProviderHarness.lookUp(address, reply: { _ in .json(404, unseen) }, makeSource: make).result
                .status == .notFound
        )
        let (forbidden, _) = try await ProviderHarness.lookUp(
            address,
            reply: { _ in .json(403, #"{"message":"Forbidden"}"#) },
            makeSource: make
        )
        #expect(forbidden.error == "crowdsec: API key rejected (HTTP 403) (Forbidden)")
        let ipv6 = Indicator(type: .ipv6, value: "2001:db8::1")
        #expect(
            CrowdSecSource(settings: ProviderSettings(apiKey: "k", baseURL: "http://x")).supportedTypes.contains(
                ipv6.type
            )
        )
    }

    /// One observable of OpenCTI 5.12+ with the given indicator edges and two labels.
    static func openCTIAnswer(_ indicators: String) -> String {
        let labels = #"[{"id":"l1","value":"c2"},{"id":"l2","value":"cobalt-strike"}]"#
        let observable =
            #""id":"6d2b1c0e-8a4f-4c47-9d1f-0d3c2b1a0e9f","entity_type":"IPv4-Addr","observable_value":"198.51.100.39""#
        return #"{"data":{"stixCyberObservables":{"edges":[{"node":{\#(observable),"x_opencti_score":40,"#
            + #""objectLabel":\#(labels),"indicators":{"edges":[\#(indicators)]}}}]}}}"#
    }

    /// The `key` of a filter list's first filter.
    static func firstKey(_ filters: JSONValue?) -> JSONValue? {
        guard case .array(let list)? = filters else { return nil }
        return list.first?["key"]
    }

    /// OpenCTI's GraphQL API (providers.md §13): the query it is sent, and each kind of answer.
    @Test func openCTI() async throws {
        let make = Self.maker("opencti")
        let live =
            #"{"node":{"id":"ind-1","pattern":"[ipv4-addr:value = '198.51.100.39']","valid_until":"2099-01-01T00:00:00.000Z","revoked":false,"x_opencti_score":85}}"#
        let revoked =
            #"{"node":{"id":"ind-2","pattern":"[ipv4-addr:value = '198.51.100.39']","valid_until":"2099-01-01T00:00:00.000Z","revoked":true,"x_opencti_score":100}}"#
        let expired =
            #"{"node":{"id":"ind-3","pattern":"[ipv4-addr:value = '198.51.100.39']","valid_until":"2020-01-01T00:00:00.000Z","revoked":false,"x_opencti_score":95}}"#
        let full = Self.openCTIAnswer([live, revoked, expired].joined(separator: ","))
        let contextOnly = Self.openCTIAnswer([revoked, expired].joined(separator: ","))
        let (result, requests) = try await ProviderHarness.lookUp(
            address,
            reply: { _ in .json(200, full) },
            makeSource: make
        )
        #expect(
            result.verdict == .malicious && result.score == 85,
            "the live indicator's score; revoked and expired ones ignored"
        )
        #expect(result.categories == ["c2", "cobalt-strike"])
        #expect(
            result.link?.hasSuffix("/dashboard/observations/observables/6d2b1c0e-8a4f-4c47-9d1f-0d3c2b1a0e9f") == true
        )
        let sent = try JSONValue(parsing: Array(requests.first?.body ?? []))
        #expect(requests.first?.uri == "/graphql" && requests.first?.headers["authorization"] == "Bearer test-key-123")
        #expect(sent["variables"]?["types"] == .array([.string("IPv4-Addr")]))
        #expect(Self.firstKey(sent["variables"]?["filters"]?["filters"]) == .string("value"))
        #expect(sent["variables"]?["filters"]?["filterGroups"] == .array([]), "the FilterGroup form of OpenCTI 5.12+")

        // Only revoked or expired indicators: known, but context only.
        let (context, _) = try await ProviderHarness.lookUp(
            address,
            reply: { _ in .json(200, contextOnly) },
            makeSource: make
        )
        #expect(context.status == .ok && context.verdict == .unknown && context.score == 0)
        let none = #"{"data":{"stixCyberObservables":{"edges":[]}}}"#
        #expect(
            try await ProviderHarness.lookUp(address, reply: { _ in .json(200, none) }, makeSource: make).result.status
                == .notFound
        )

        // A hash is found through the StixFile hash keys.
        let hash = Indicator(type: .sha256, value: String(repeating: "a", count: 64))
        let (_, hashRequests) = try await ProviderHarness.lookUp(
            hash,
            reply: { _ in .json(200, none) },
            makeSource: make
        )
        let hashQuery = try JSONValue(parsing: Array(hashRequests.first?.body ?? []))
        #expect(hashQuery["variables"]?["types"] == .array([.string("StixFile")]))
        #expect(Self.firstKey(hashQuery["variables"]?["filters"]?["filters"]) == .string("hashes.SHA-256"))

        // GraphQL errors come inside HTTP 200.
        let authError =
            #"{"errors":[{"message":"You must be logged in to do this.","extensions":{"code":"AUTH_REQUIRED"}}],"data":null}"#
        let (rejected, _) = try await ProviderHarness.lookUp(
            address,
            reply: { _ in .json(200, authError) },
            makeSource: make
        )
        #expect(rejected.status == .error)
        #expect(rejected.error == "opencti: API key rejected (AUTH_REQUIRED) (You must be logged in to do this.)")
        let schemaError =
            #"{"errors":[{"message":"Unknown type \"FilterGroup\".","extensions":{"code":"GRAPHQL_VALIDATION_FAILED"}}],"data":null}"#
        let (invalid, _) = try await ProviderHarness.lookUp(
            address,
            reply: { _ in .json(200, schemaError) },
            makeSource: make
        )
        #expect(invalid.error == "opencti: GraphQL error GRAPHQL_VALIDATION_FAILED: Unknown type \"FilterGroup\".")
    }

    /// The hosted DFIR platform (providers.md §14): its answer for the values of one call, in order.
    static let dfirPlatform: MockProviderServer.Handler = { request in
        guard let body = try? JSONValue(parsing: request.body), case .array(let asked)? = body["indicators"] else {
            return .json(400, #"{"error":{"type":"invalid_request","code":"invalid_request","message":"bad"}}"#)
        }
        let results = asked.map { item -> String in
            let value = item["value"]?.scalarText ?? ""
            let type = item["type"]?.scalarText ?? ""
            let (verdict, score, providers) =
                switch value {
                case "198.51.100.39":
                    (
                        "malicious", 85,
                        #"{"virustotal":{"verdict":"malicious","score":90,"details":{"positives":12,"total":94}},"abuseipdb":{"verdict":"suspicious","score":75,"details":{"total_reports":342}},"shodan":{"verdict":"clean","score":0,"details":{}}}"#
                    )
                case "example.com": ("clean", 0, #"{"virustotal":{"verdict":"clean","score":0,"details":{}}}"#)
                default: ("unknown", 0, "{}")
                }
            return
                #"{"indicator":{"type":"\#(type)","value":"\#(value)"},"verdict":"\#(verdict)","score":\#(score),"providers":\#(providers),"enriched_at":"2026-03-24T12:34:56.789Z"}"#
        }
        return .json(
            200,
            #"{"data":{"results":[\#(results.joined(separator: ","))],"summary":{"total":\#(asked.count)}},"meta":{"request_id":"req_abc123","credits_used":\#(3 * asked.count),"credits_remaining":91,"processing_time_ms":1450}}"#,
            headers: [
                ("X-Credits-Remaining", "91"), ("X-RateLimit-Limit", "60"), ("X-RateLimit-Remaining", "59"),
            ]
        )
    }

    @Test func dfirPlatform() async throws {
        let make = Self.maker("dfirlab")
        let (result, requests) = try await ProviderHarness.lookUp(address, reply: Self.dfirPlatform, makeSource: make)
        #expect(result.verdict == .malicious && result.score == 85)
        #expect(result.categories == ["virustotal", "abuseipdb"], "the providers that flagged it")
        #expect(result.details["providers"]?["virustotal"]?["details"]?["positives"]?.scalarText == "12")
        #expect(result.providerQuota?.remaining == 91, "its credits left, for --explain")
        #expect(requests.first?.uri == "/enrichment/lookup")
        #expect(requests.first?.headers["authorization"] == "Bearer test-key-123")
        #expect(requests.first?.bodyText == #"{"indicators":[{"type":"ip","value":"198.51.100.39"}]}"#)
        let domain = Indicator(type: .domain, value: "example.com")
        let (clean, _) = try await ProviderHarness.lookUp(domain, reply: Self.dfirPlatform, makeSource: make)
        #expect(clean.verdict == .harmless && clean.status == .ok)
        let unseen = Indicator(type: .domain, value: "never-seen.example.net")
        #expect(
            try await ProviderHarness.lookUp(unseen, reply: Self.dfirPlatform, makeSource: make).result.status
                == .notFound
        )

        let outOfCredits =
            #"{"error":{"type":"insufficient_credits","code":"insufficient_credits","message":"Not enough credits"}}"#
        let (spent, _) = try await ProviderHarness.lookUp(
            address,
            reply: { _ in .json(402, outOfCredits) },
            makeSource: make
        )
        #expect(spent.status == .quotaExhausted, "out of credits is a quota")
        #expect(
            spent.error?.hasPrefix("dfirlab: out of credits (HTTP 402) (Not enough credits)") == true,
            "\(spent.error ?? "")"
        )
        let (refused, _) = try await ProviderHarness.lookUp(
            address,
            reply: { _ in
                .json(
                    401,
                    #"{"error":{"type":"authentication_error","code":"api_key_invalid","message":"Invalid API key"}}"#
                )
            },
            makeSource: make
        )
        #expect(refused.error == "dfirlab: API key rejected (HTTP 401) (Invalid API key)")
        let (limited, _) = try await ProviderHarness.lookUp(
            address,
            reply: { _ in
                .json(
                    429,
                    #"{"error":{"type":"rate_limit_exceeded","code":"rate_limit_exceeded","message":"Too many requests"}}"#,
                    headers: [("Retry-After", "7"), ("X-RateLimit-Remaining", "0"), ("X-RateLimit-Limit", "60")]
                )
            },
            makeSource: make
        )
        #expect(
            limited.status == .quotaExhausted && limited.error?.contains("waiting 7 s") == true,
            "\(limited.error ?? "")"
        )
    }

    /// Lookups that arrive together share calls of at most ten: 25 values, three calls, each its own answer.
    @Test func theDFIRPlatformIsAskedTenAtATime() async throws {
        try await MockProviderServer.with(Self.dfirPlatform) { server in
            let source = DFIRLabSource(
                settings: ProviderSettings(apiKey: "test-key-123", baseURL: server.baseURL),
                http: ProviderHTTPClient(timeout: .seconds(5))
            )
            let values = ["198.51.100.39", "example.com"] + (1...23).map { "never-\($0).example.net" }
            let results = try await withThrowingTaskGroup(of: (String, SourceResult).self) { group in
                for value in values {
                    group.addTask { (value, try await source.lookUp(try IndicatorParser.parse(value))) }
                }
                var all: [String: SourceResult] = [:]
                for try await (value, result) in group { all[value] = result }
                return all
            }
            #expect(results["198.51.100.39"]?.verdict == .malicious)
            #expect(results["example.com"]?.verdict == .harmless)
            #expect(results["never-7.example.net"]?.status == .notFound)
            let sizes = server.requests.map { request -> Int in
                guard case .array(let asked)? = (try? JSONValue(parsing: request.body))?["indicators"] else { return 0 }
                return asked.count
            }
            #expect(sizes.allSatisfy { $0 <= 10 } && sizes.reduce(0, +) == 25, "\(sizes)")
            #expect(sizes.count <= 4, "together, not one call each: \(sizes)")
        }
    }

    @Test(arguments: ["abuseipdb", "otx", "greynoise", "misp", "maltiverse", "crowdsec", "opencti", "dfirlab"])
    func commonFailures(_ name: String) async throws {
        let make = Self.maker(name)
        try await ProviderHarness.expectSurvivesCommonFailures(address, source: name, makeSource: make)
        let (noRetryAfter, _) = try await ProviderHarness.lookUp(
            address,
            reply: { _ in .raw(429, []) },
            makeSource: make
        )
        #expect(noRetryAfter.error?.hasPrefix("\(name): rate limited (HTTP 429); waiting 60 s (until 20") == true)
        let (retryAfter, _) = try await ProviderHarness.lookUp(
            address,
            reply: { _ in .raw(429, [], headers: [("Retry-After", "5")]) },
            makeSource: make
        )
        #expect(retryAfter.status == .quotaExhausted)
        #expect(retryAfter.error?.hasPrefix("\(name): rate limited (HTTP 429); waiting 5 s (until 20") == true)
        let (badKey, _) = try await ProviderHarness.lookUp(address, reply: { _ in .raw(401, []) }, makeSource: make)
        #expect(badKey.status == .error)
        #expect(badKey.error == "\(name): API key rejected (HTTP 401)")
    }
}

/// The providers' own rate-limit headers, read as the shared budget takes them.
struct StatedQuotaTests {
    @Test func bothHeaderFamiliesAndBothResetForms() {
        let now = 1_796_126_400.0
        // AbuseIPDB: a Unix time.
        let abuse = ProviderResponse(
            status: 200,
            headers: [
                ("X-RateLimit-Limit", "1000"), ("X-RateLimit-Remaining", "993"), ("X-RateLimit-Reset", "1796169600"),
            ],
            body: []
        )
        #expect(abuse.statedQuota(now: now) == ProviderQuota(limit: 1000, remaining: 993, resetsAt: 1_796_169_600))
        // MISP: seconds from now, in its own spelling.
        let misp = ProviderResponse(
            status: 429,
            headers: [("X-Rate-Limit-Limit", "60"), ("X-Rate-Limit-Remaining", "0"), ("X-Rate-Limit-Reset", "840")],
            body: []
        )
        #expect(misp.statedQuota(now: now) == ProviderQuota(limit: 60, remaining: 0, resetsAt: now + 840))
        let none = ProviderResponse(status: 200, headers: [("X-RateLimit-Remaining", "many")], body: [])
        #expect(none.statedQuota(now: now) == nil)
    }
}
