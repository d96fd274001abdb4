import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import VerdictCore
import VerdictEngine
import VerdictServer
import VerdictStore
import VerdictTestSupport

/// The routes the console calls beside the lookup: extraction before any credit is spent, the sources panel and
/// the key's history.
struct ConsoleAPITests {
    static func extract(_ client: some TestClientProtocol, _ body: String, key: String) async throws -> TestResponse {
        try await client.execute(
            uri: "/v1/extract",
            method: .post,
            headers: [.authorization: "Bearer \(key)", .contentType: "application/json"],
            body: ByteBuffer(string: body)
        )
    }

    @Test func extractionIsFreeAndNamesEachValuesFieldAndWhyOthersAreLeftOut() async throws {
        try await ServerHarness.with { harness, abuseIPDB in
            let key = try await harness.key(plan: .free, credits: 3)
            try await harness.application().test(.router) { client in
                let alert = #"""
                    {"alert": {"rule": {"id": "5760", "description": "sshd: authentication failed."},
                     "agent": {"id": "001", "name": "web-01", "ip": "10.0.2.15"},
                     "data": {"srcip": "185.220.101.4", "dstip": "10.0.0.5"},
                     "full_log": "Failed password for root from 185.220.101.4; fetched hxxp://evil-updates[.]com/a.sh"}}
                    """#
                let fromAlert = try await Self.extract(client, alert, key: key).json
                let found = fromAlert["indicators"]?.items ?? []
                #expect(found.first?["value"] == .string("185.220.101.4"))
                #expect(found.first?["field"] == .string("data.srcip"))
                #expect(
                    found.contains {
                        $0["value"] == .string("http://evil-updates.com/a.sh") && $0["field"] == .string("full_log")
                    }
                )
                let left = fromAlert["suppressed"]?.items ?? []
                #expect(left.contains { $0["value"] == .string("10.0.0.5") && $0["reason"] == .string("private") })

                let fromText = try await Self.extract(
                    client,
                    #"{"text": "C2 at 185.220.101[.]4 and 192.168.1.9"}"#,
                    key: key
                )
                #expect(fromText.status == .ok)
                #expect(try fromText.json["indicators"]?.items.map { $0["value"] } == [.string("185.220.101.4")])

                // A lookup's own body: its values assessed one by one; an invalid one is named as in a lookup.
                let fromList = try await Self.extract(
                    client,
                    #"{"indicators": ["185.220.101.4", "127.0.0.1"]}"#,
                    key: key
                )
                #expect(try fromList.json["suppressed"]?.items.first?["reason"] == .string("reserved:loopback"))
                let invalid = try await Self.extract(client, #"{"indicators": ["185.220.101.4", "nope"]}"#, key: key)
                #expect(invalid.status == .unprocessableContent && invalid.errorCode == "invalid_indicators")
                let both = try await Self.extract(client, #"{"text": "a", "alert": {}}"#, key: key)
                #expect(both.status == .unprocessableContent)
                #expect(both.text.contains("give exactly one of"), "\(both.text)")

                #expect(abuseIPDB.requests.isEmpty, "nothing is looked up")
                #expect(try await client.get("/v1/usage", key: key).json["credits"]?["used"]?.int == 0)
            }
        }
    }

    @Test func theSourcesPanelSaysWhatIsOnAndTheSharedBudget() async throws {
        try await ServerHarness.with { harness, _ in
            let key = try await harness.key()
            try await harness.application().test(.router) { client in
                _ = try await client.lookup(#"{"indicators": ["185.220.101.4", "185.220.101.4"]}"#, key: key)
                _ = try await client.lookup(#"{"indicators": ["185.220.101.4"]}"#, key: key)
                let answer = try await client.get("/v1/sources", key: key).json
                let sources = answer["sources"]?.items ?? []
                let abuse = sources.first { $0["name"] == .string("abuseipdb") }
                #expect(abuse?["on"] == .bool(true) && abuse?["external"] == .bool(true))
                #expect(abuse?["circuit"] == .string("closed"))
                let window = abuse?["windows"]?.items.first
                #expect(window?["left"]?.int == (window?["limit"]?.int ?? 0) - 1, "one call spent: \(answer)")
                let virusTotal = sources.first { $0["name"] == .string("virustotal") }
                #expect(virusTotal?["on"] == .bool(false))
                #expect(virusTotal?["reason"]?.scalarText?.contains("VERDICT_VIRUSTOTAL_API_KEY") == true)
                // Three reports: the value twice in the first request (asked once), then from the cache.
                let cache = answer["cache"]
                #expect(cache?["lookups"]?.int == 3 && cache?["hits"]?.int == 1, "\(answer)")
                #expect(cache?["hit_ratio"]?.scalarText.flatMap(Double.init).map { abs($0 - 1.0 / 3) < 0.01 } == true)
                #expect(try await client.get("/v1/sources").status == .unauthorized)
            }
        }
    }

    @Test func theHistoryKeepsEachKeysLookupsWithinTheSetting() async throws {
        try await ServerHarness.with { harness, _ in
            let key = try await harness.key()
            let other = try await harness.key("soc2")
            try await harness.application { $0.historyEntries = 2 }.test(.router) { client in
                for value in ["185.220.101.4", "185.220.101.5", "185.220.101.6"] {
                    _ = try await client.lookup(#"{"indicators": ["\#(value)", "10.0.0.5"]}"#, key: key)
                }
                let history = try await client.get("/v1/history", key: key).json
                let lookups = history["lookups"]?.items ?? []
                #expect(
                    lookups.map { $0["indicators"]?.items.first } == [
                        .string("185.220.101.6"), .string("185.220.101.5"),
                    ]
                )
                #expect(lookups.first?["verdict"] == .string("malicious"), "the worst of its results")
                #expect(lookups.first?["credits_charged"]?.int == 3)
                #expect(lookups.first?["results"]?.items.count == 2, "the results as answered")
                #expect(lookups.first?["results"]?.items.last?["verdict"] == .string("suppressed"))
                #expect(history["kept"]?.int == 2)
                #expect(try await client.get("/v1/history?limit=1", key: key).json["lookups"]?.items.count == 1)
                #expect(try await client.get("/v1/history", key: other).json["lookups"]?.items.isEmpty == true)
                #expect(try await client.get("/v1/history?limit=0", key: key).status == .badRequest)
            }
            try await harness.application { $0.historyEntries = 0 }.test(.router) { client in
                _ = try await client.lookup(#"{"indicators": ["185.220.101.7"]}"#, key: other)
                #expect(
                    try await client.get("/v1/history", key: other).json["lookups"]?.items.isEmpty == true,
                    "0 keeps none"
                )
            }
        }
    }
}
