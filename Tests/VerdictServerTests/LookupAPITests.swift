import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import VerdictCore
import VerdictEngine
import VerdictSQLite
import VerdictServer
import VerdictStore
import VerdictTestSupport

/// `POST /v1/enrichment/lookup` through the real router: results, credits, cache, refunds.
struct LookupAPITests {
    @Test func looksUpChargesOnceAndServesTheCacheFree() async throws {
        try await ServerHarness.with { harness, abuseIPDB in
            let key = try await harness.key(plan: .professional)
            try await harness.application().test(.router) { client in
                let body =
                    #"{"indicators": ["185.220.101[.]4", "10.0.0.50", {"type": "ipv4", "value": "185.220.101.4"}]}"#
                let first = try await client.lookup(body, key: key)
                #expect(first.status == .ok)
                let answer = try first.json
                #expect(answer["credits"]?["charged"]?.int == 3)
                #expect(answer["credits"]?["remaining"]?.int == 2497)
                #expect(answer["request_id"]?.scalarText == first.headers[HTTPField.Name("X-Request-Id")!])
                let results = answer["results"]?.items ?? []
                #expect(results.count == 3)
                #expect(results[0]["indicator"]?["value"] == .string("185.220.101.4"))
                #expect(results[0]["indicator"]?["input"] == .string("185.220.101[.]4"))
                #expect(results[0]["verdict"] == .string("malicious"))
                #expect((70...100).contains(results[0]["score"]?.int ?? 0))
                #expect(results[0]["summary"] == .string("1 of 1 sources: malicious (abuseipdb 100)"))
                let source = results[0]["sources"]?.items.first
                #expect(source?["source"] == .string("abuseipdb"))
                #expect(source?["status"] == .string("ok"))
                #expect(source?["score"]?.int == 100)
                #expect(source?["link"] == .string("https://www.abuseipdb.com/check/185.220.101.4"))
                #expect(results[1]["verdict"] == .string("suppressed"))
                #expect(results[1]["reason"] == .string("private"))
                #expect(results[2]["verdict"] == .string("malicious"))
                #expect(abuseIPDB.requests.count == 1, "the same value twice in a request is asked once")
                #expect(!first.text.contains("abuse-secret-key-42"))

                let second = try await client.lookup(body, key: key)
                let again = try second.json
                #expect(again["credits"]?["charged"]?.int == 0)
                #expect(again["credits"]?["remaining"]?.int == 2497)
                #expect(again["results"]?.items.first?["cached"] == .bool(true))
                #expect(abuseIPDB.requests.count == 1)

                let refreshed = try await client.lookup(
                    #"{"indicators": ["185.220.101.4"], "refresh": true}"#,
                    key: key
                )
                #expect(try refreshed.json["credits"]?["charged"]?.int == 3)
                #expect(abuseIPDB.requests.count == 2)

                let usage = try await client.get("/v1/usage", key: key).json
                #expect(usage["key"]?["name"] == .string("soc1"))
                #expect(usage["key"]?["plan"] == .string("professional"))
                #expect(usage["credits"]?["monthly"]?.int == 2500)
                #expect(usage["credits"]?["used"]?.int == 6)
                #expect(usage["credits"]?["remaining"]?.int == 2494)
                #expect(usage["requests"]?.int == 3, "this usage request is counted once it is answered")
                #expect(usage["lookups"]?.int == 7)
                #expect(usage["cache_hits"]?.int == 2)
                #expect(usage["upstream_lookups"]?.int == 2)
                #expect(usage["suppressed"]?.int == 2)
                #expect(usage["month"]?.scalarText == usageMonth(of: Date()))
            }
        }
    }

    @Test func concurrentRequestsNeverOverspendAKey() async throws {
        try await ServerHarness.with { harness, abuseIPDB in
            // Credits for exactly 10 lookups that reach a source.
            let key = try await harness.key("tight", plan: .free, credits: 30)
            let app = harness.application {
                $0.keyRateLimit = nil
                $0.maxInFlightPerKey = 100  // all 50 at once, for the credits to decide
            }
            try await app.test(.router) { client in
                let statuses = try await withThrowingTaskGroup(of: (HTTPResponse.Status, Int?, String).self) { group in
                    for index in 0..<50 {
                        group.addTask {
                            let value = "185.220.\(index / 250).\(index % 250 + 1)"
                            let response = try await client.lookup(#"{"indicators": ["\#(value)"]}"#, key: key)
                            return (response.status, try response.json["credits"]?["charged"]?.int, value)
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(statuses.filter { $0.0 == .ok }.count == 10)
                #expect(statuses.filter { $0.0 == .ok }.allSatisfy { $0.1 == 3 })
                #expect(statuses.filter { $0.0.code == 402 }.count == 40)
                #expect(abuseIPDB.requests.count == 10, "a 402 reaches no source")

                let usage = try await client.get("/v1/usage", key: key).json
                #expect(usage["credits"]?["used"]?.int == 30)
                #expect(usage["credits"]?["remaining"]?.int == 0)

                let refused = try await client.lookup(#"{"indicators": ["185.220.101.77"]}"#, key: key)
                #expect(refused.status.code == 402)
                #expect(refused.errorCode == "insufficient_credits")
                #expect(try refused.json["error"]?["required"]?.int == 3)
                #expect(try refused.json["error"]?["remaining"]?.int == 0)
                // Cached and suppressed values stay free when the credits are gone (a value one of the ten winners
                // asked: which ten win the race is up to the scheduler).
                let cached = try #require(statuses.first { $0.0 == .ok }?.2)
                let cachedAndPrivate = try await client.lookup(
                    #"{"indicators": ["\#(cached)", "192.168.1.1"]}"#,
                    key: key
                )
                #expect(cachedAndPrivate.status == .ok)
                #expect(try cachedAndPrivate.json["credits"]?["charged"]?.int == 0)
            }
        }
    }

    @Test func failedLookupsAreRefunded() async throws {
        let replies: [(String, MockProviderServer.Reply)] = [
            ("HTTP 500", .raw(500, Array("<html>down</html>".utf8), headers: [("Content-Type", "text/html")])),
            ("malformed", .raw(200, Array("{\"data\": [trunc".utf8))),
            ("429", .json(429, #"{"errors":[{"detail":"Daily rate limit of 1000 requests exceeded","status":429}]}"#)),
        ]
        for (name, reply) in replies {
            try await ServerHarness.with(abuseIPDB: reply) { harness, abuseIPDB in
                let key = try await harness.key(plan: .starter)
                try await harness.application().test(.router) { client in
                    let response = try await client.lookup(#"{"indicators": ["185.220.101.4"]}"#, key: key)
                    #expect(response.status == .ok, "\(name)")
                    let answer = try response.json
                    #expect(answer["credits"]?["charged"]?.int == 0, "\(name)")
                    #expect(answer["credits"]?["remaining"]?.int == 500, "\(name)")
                    #expect(answer["results"]?.items.first?["sources"]?.items.first?["status"] != .string("ok"))
                    #expect(abuseIPDB.requests.count == 1)
                    let usage = try await client.get("/v1/usage", key: key).json
                    #expect(usage["credits"]?["used"]?.int == 0, "\(name)")
                }
            }
        }
    }

    /// Polls the key's usage until `used` is `expected` (the late settlement of a timed-out lookup).
    static func waitForCreditsUsed(_ expected: Int, key: String, client: some TestClientProtocol) async throws -> Int? {
        var used: Int?
        for _ in 0..<200 {
            used = try await client.get("/v1/usage", key: key).json["credits"]?["used"]?.int
            if used == expected { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        return used
    }

    @Test func aLookupPastTheRequestDeadlineGets504AndItsCreditsBackWhenNothingAnswers() async throws {
        // The source hangs past its own 1 s deadline; the request's deadline is 300 ms.
        try await ServerHarness.with(abuseIPDB: .hang, extraEnvironment: ["VERDICT_ABUSEIPDB_TIMEOUT_MS": "1000"]) {
            harness,
            _ in
            let key = try await harness.key(plan: .starter)
            let app = harness.application { $0.requestTimeout = .milliseconds(300) }
            try await app.test(.router) { client in
                let response = try await client.lookup(#"{"indicators": ["185.220.101.4"]}"#, key: key)
                #expect(response.status == .gatewayTimeout, "the request's deadline, not the source's, ended it")
                #expect(response.errorCode == "lookup_timeout")
                // Held until the source gives up, then all given back: nothing answered.
                #expect(try await Self.waitForCreditsUsed(0, key: key, client: client) == 0)
                let usage = try await client.get("/v1/usage", key: key).json
                #expect(usage["credits"]?["remaining"]?.int == 500)
            }
        }
    }

    /// The provider answers after the caller's deadline: the answer is cached, and charged, so a retry that
    /// gets it from the cache is not the way to free lookups.
    @Test func aLookupThatAnswersAfterItsDeadlineIsChargedOnce() async throws {
        let late = MockProviderServer.Reply.delayed(milliseconds: 1500, .json(200, ServerHarness.abuseIPDBMalicious))
        try await ServerHarness.with(abuseIPDB: late, extraEnvironment: ["VERDICT_ABUSEIPDB_TIMEOUT_MS": "20000"]) {
            harness,
            abuseIPDB in
            let key = try await harness.key(plan: .starter)
            let app = harness.application { $0.requestTimeout = .milliseconds(300) }
            try await app.test(.router) { client in
                let first = try await client.lookup(#"{"indicators": ["185.220.101.4"]}"#, key: key)
                #expect(first.status == .gatewayTimeout)
                #expect(try await Self.waitForCreditsUsed(3, key: key, client: client) == 3)
                let retry = try await client.lookup(#"{"indicators": ["185.220.101.4"]}"#, key: key)
                #expect(retry.status == .ok)
                let answer = try retry.json
                #expect(answer["credits"]?["charged"]?.int == 0)
                #expect(answer["results"]?.items.first?["cached"] == .bool(true))
                #expect(answer["results"]?.items.first?["verdict"] == .string("malicious"))
                #expect(abuseIPDB.requests.count == 1)
                let usage = try await client.get("/v1/usage", key: key).json
                #expect(usage["credits"]?["used"]?.int == 3, "charged once, for the one call that reached it")
            }
        }
    }

    /// An `unknown` that means "nobody was asked" says so, and names the settings that turn sources on.
    @Test func anAnswerThatNoOutsideSourceCouldGiveCarriesAWarning() async throws {
        try await ServerHarness.with { harness, _ in
            let key = try await harness.key(plan: .professional)
            try await harness.application().test(.router) { client in
                let covered = try await client.lookup(#"{"indicators": ["185.220.101.4", "10.0.0.1"]}"#, key: key)
                #expect(try covered.json["warnings"] == nil, "AbuseIPDB looks up IPv4: nothing to warn of")

                let uncovered = try await client.lookup(
                    #"{"indicators": ["185.220.101.4", "login-micros0ft-support.com"]}"#,
                    key: key
                )
                #expect(uncovered.status == .ok)
                let warnings = try uncovered.json["warnings"]?.items.compactMap(\.scalarText) ?? []
                #expect(warnings.count == 1)
                #expect(warnings.first?.contains("(abuseipdb) do not look up domain") == true, "\(warnings)")
                #expect(warnings.first?.contains("VERDICT_VIRUSTOTAL_API_KEY") == true)
                #expect(warnings.first?.contains("ipv4") == false, "\(warnings)")

                let chosen = try await client.lookup(
                    #"{"indicators": ["d41d8cd98f00b204e9800998ecf8427f"], "sources": ["abuseipdb"]}"#,
                    key: key
                )
                let chosenWarnings = try chosen.json["warnings"]?.items.compactMap(\.scalarText) ?? []
                #expect(chosenWarnings.first?.contains("none of the chosen sources looks up md5") == true)
            }
        }
    }

    /// A value the provider refuses (AbuseIPDB answers 422) reached it and spent its quota: charged, never
    /// refunded as "every source failed", and the source stays usable for everyone.
    @Test func aValueTheProviderRefusesIsChargedAndLeavesTheCircuitClosed() async throws {
        let refusal = #"{"errors":[{"detail":"The ip address must be a valid IPv4 or IPv6 address.","status":422}]}"#
        try await ServerHarness.with(abuseIPDB: .json(422, refusal)) { harness, abuseIPDB in
            let key = try await harness.key(plan: .starter)
            try await harness.application().test(.router) { client in
                for last in 1...6 {
                    let response = try await client.lookup(#"{"indicators": ["185.220.101.\#(last)"]}"#, key: key)
                    let answer = try response.json
                    #expect(answer["credits"]?["charged"]?.int == 3, "\(response.text)")
                    #expect(answer["results"]?.items.first?["sources"]?.items.first?["status"] == .string("error"))
                }
                #expect(abuseIPDB.requests.count == 6, "no circuit opened: every lookup reached the provider")
                let usage = try await client.get("/v1/usage", key: key).json
                #expect(usage["credits"]?["used"]?.int == 18)
            }
        }
    }

    /// Shared (the default, one SOC): a second key gets the first key's answer from the cache, free. Not
    /// shared (an MSSP's customers): the second key cannot tell that anyone asked before; it pays for its own
    /// first lookup, while the provider is still asked only once.
    @Test func theCacheIsSharedBetweenKeysOnlyWhenTheSettingSaysSo() async throws {
        try await ServerHarness.with { harness, abuseIPDB in
            let alice = try await harness.key("alice", plan: .starter)
            let bob = try await harness.key("bob", plan: .starter)
            let broke = try await harness.key("broke", plan: .free, credits: 0)
            let body = #"{"indicators": ["185.220.101.4"]}"#
            try await harness.application { $0.shareCacheBetweenKeys = false }.test(.router) { client in
                let first = try await client.lookup(body, key: alice).json
                #expect(first["credits"]?["charged"]?.int == 3)

                let other = try await client.lookup(body, key: bob).json
                #expect(other["credits"]?["charged"]?.int == 3, "a first lookup for this key")
                #expect(other["results"]?.items.first?["cached"] == .bool(false))
                #expect(other["results"]?.items.first?["age_s"]?.int == 0)
                #expect(other["results"]?.items.first?["verdict"] == .string("malicious"))
                #expect(abuseIPDB.requests.count == 1, "the cache still spared the provider")

                let again = try await client.lookup(body, key: bob).json
                #expect(again["credits"]?["charged"]?.int == 0, "its own lookup is cached for it")
                #expect(again["results"]?.items.first?["cached"] == .bool(true))

                let nosy = try await client.lookup(body, key: broke)
                #expect(nosy.status.code == 402, "a key with no credits learns nothing of what others asked")
            }
            try await harness.application().test(.router) { client in
                let shared = try await client.lookup(body, key: broke).json
                #expect(shared["credits"]?["charged"]?.int == 0)
                #expect(shared["results"]?.items.first?["cached"] == .bool(true))
            }
        }
    }

    /// Credentials inside a URL are the victim's: the provider sees the URL without them, and so does the answer.
    @Test func aURLsCredentialsNeverReachTheProvider() async throws {
        let urlhausAnswer: MockProviderServer.Handler = { _ in .json(200, ServerHarness.urlhausNoResults) }
        try await MockProviderServer.with(urlhausAnswer) { urlhaus in
            try await MockProviderServer.with({ _ in .json(200, ServerHarness.abuseIPDBMalicious) }) { abuseIPDB in
                let harness = try await ServerHarness(abuseIPDB: abuseIPDB, urlhaus: urlhaus)
                let key = try await harness.key(plan: .starter)
                try await harness.application().test(.router) { client in
                    let response = try await client.lookup(
                        #"{"indicators": ["http://backup:Winter2024!@files.evil-updates.com/share/drop.zip"]}"#,
                        key: key
                    )
                    #expect(response.status == .ok)
                    let result = try response.json["results"]?.items.first
                    #expect(result?["indicator"]?["value"] == .string("http://files.evil-updates.com/share/drop.zip"))
                    #expect(!urlhaus.requests.isEmpty)
                    for request in urlhaus.requests {
                        let sent = request.uri + String(decoding: request.body, as: UTF8.self)
                        #expect(
                            !sent.contains("Winter2024") && !sent.contains("backup%3A") && !sent.contains("backup:")
                        )
                    }
                }
                await harness.remove()
            }
        }
    }

    @Test func aRestartKeepsKeysCreditsAndTheCache() async throws {
        let malicious: MockProviderServer.Handler = { _ in .json(200, ServerHarness.abuseIPDBMalicious) }
        try await MockProviderServer.with(malicious) { abuseIPDB in
            let first = try await ServerHarness(abuseIPDB: abuseIPDB)
            let key = try await first.key(plan: .starter)
            try await first.application().test(.router) { client in
                let response = try await client.lookup(#"{"indicators": ["185.220.101.4"]}"#, key: key)
                #expect(try response.json["credits"]?["remaining"]?.int == 497)
            }
            await first.runtime.shutdown()

            // A new process on the same directory: new pool, new engine, empty memory cache.
            let second = try await ServerHarness(directory: first.directory, abuseIPDB: abuseIPDB)
            try await second.application().test(.router) { client in
                let response = try await client.lookup(#"{"indicators": ["185.220.101.4"]}"#, key: key)
                #expect(response.status == .ok)
                let answer = try response.json
                #expect(answer["credits"]?["charged"]?.int == 0)
                #expect(answer["credits"]?["remaining"]?.int == 497)
                #expect(answer["results"]?.items.first?["cached"] == .bool(true))
                let usage = try await client.get("/v1/usage", key: key).json
                #expect(usage["lookups"]?.int == 2, "the first process wrote its counts when it stopped")
                #expect(usage["requests"]?.int == 2)
            }
            #expect(abuseIPDB.requests.count == 1)
            await second.remove()
        }
    }

    @Test func statusAndRecordsSurviveAStoreThatStopsAnswering() async throws {
        try await ServerHarness.with { harness, abuseIPDB in
            let key = try await harness.key(plan: .starter)
            try await harness.application().test(.router) { client in
                #expect(try await client.get("/v1/ready").status == .ok)
                try harness.database.writer.close()
                let ready = try await client.get("/v1/ready")
                #expect(ready.status == .serviceUnavailable)
                #expect(ready.errorCode == "store_unavailable")
                let response = try await client.lookup(#"{"indicators": ["185.220.101.4"]}"#, key: key)
                #expect(response.status == .serviceUnavailable)
                #expect(response.errorCode == "store_unavailable")
                #expect(response.headers[.retryAfter] != nil)
                #expect(abuseIPDB.requests.isEmpty, "nothing is looked up when credits cannot be held")
                #expect(try await client.get("/v1/health").status == .ok)
            }
        }
    }
}
