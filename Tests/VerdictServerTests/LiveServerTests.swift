import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import NIOHTTP1
import Testing
import VerdictCore
import VerdictEngine
import VerdictServer
import VerdictSources
import VerdictStore
import VerdictTestSupport

/// The server on a real loopback port with a real HTTP client, and its metrics.
struct LiveServerTests {
    @Test func aRealServerSurvivesOversizedRequestsAndKeepsServing() async throws {
        try await ServerHarness.with { harness, _ in
            let key = try await harness.key(plan: .starter)
            // Twenty at once with one key: above the default in-flight cap, which is not what this tests.
            try await harness.application { $0.maxInFlightPerKey = 64 }.test(.live) { client in
                guard let port = client.port else {
                    Issue.record("no port")
                    return
                }
                let http = HTTPClient(eventLoopGroupProvider: .singleton)
                do {
                    func post(_ body: ByteBuffer, headers extra: [(String, String)] = []) async throws -> (
                        status: Int, body: String
                    ) {
                        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/enrichment/lookup")
                        request.method = .POST
                        request.headers.add(name: "Authorization", value: "Bearer \(key)")
                        request.headers.add(name: "Content-Type", value: "application/json")
                        for (name, value) in extra { request.headers.add(name: name, value: value) }
                        request.body = .bytes(body)
                        let response = try await http.execute(request, timeout: .seconds(30))
                        let bytes = try await response.body.collect(upTo: 1 << 20)
                        return (Int(response.status.code), String(buffer: bytes))
                    }
                    let good = ByteBuffer(string: #"{"indicators": ["185.220.101.4"]}"#)
                    let first = try await post(good)
                    #expect(first.status == 200)
                    #expect(first.body.contains("\"verdict\":\"malicious\""))

                    let tenMegabytes = try await post(ByteBuffer(repeating: UInt8(ascii: "["), count: 10 << 20))
                    #expect(tenMegabytes.status == 413)
                    #expect(tenMegabytes.body.contains("body_too_large"))

                    let bigHeader = try await post(
                        good,
                        headers: [("X-Padding", String(repeating: "a", count: 64 << 10))]
                    )
                    #expect(bigHeader.status == 400, "a head over the limit is refused")

                    // Several at once on fresh connections, then the server is still there.
                    try await withThrowingTaskGroup(of: Int.self) { group in
                        for _ in 0..<20 { group.addTask { try await post(good).status } }
                        for try await status in group { #expect(status == 200) }
                    }
                    #expect(try await post(good).status == 200)
                } catch {
                    try? await http.shutdown()
                    throw error
                }
                try await http.shutdown()
            }
        }
    }

    @Test func metricsCoverRequestsLookupsSourcesAndCredits() async throws {
        try await ServerHarness.with { harness, _ in
            let key = try await harness.key(plan: .starter)
            try await harness.application().test(.router) { client in
                _ = try await client.lookup(#"{"indicators": ["185.220.101.4"]}"#, key: key)
                _ = try await client.lookup(#"{"indicators": ["185.220.101.4"]}"#, key: key)
                _ = try await client.lookup(#"{"indicators": ["nope"]}"#, key: key)
                let metrics = try await client.get("/metrics")
                #expect(metrics.status == .ok)
                #expect(metrics.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
                let lines = Set(metrics.text.split(separator: "\n").map(String.init))
                for expected in [
                    #"verdict_http_requests_total{route="/v1/enrichment/lookup",method="POST",status="200"} 2"#,
                    #"verdict_http_requests_total{route="/v1/enrichment/lookup",method="POST",status="422"} 1"#,
                    #"verdict_cache_lookups_total{result="hit"} 1"#,
                    #"verdict_cache_lookups_total{result="miss"} 1"#,
                    "verdict_cache_hit_ratio 0.5",
                    "verdict_credits_charged_total 3",
                    #"verdict_source_answers_total{source="abuseipdb",status="ok"} 1"#,
                    #"verdict_source_circuit_state{source="abuseipdb",state="closed"} 1.0"#,
                    #"verdict_source_quota_remaining_calls{source="abuseipdb",window="1000 per day"} 999.0"#,
                    #"verdict_source_blocked_until_seconds{source="abuseipdb"} 0.0"#,
                    #"verdict_store_failures_total{store="cache"} 0"#,
                    #"verdict_store_failures_total{store="budget"} 0"#,
                    #"verdict_indicators_total{verdict="malicious"} 2"#,
                    "verdict_lookup_duration_seconds_count 2",
                ] {
                    #expect(lines.contains(expected), "missing: \(expected)")
                }
                #expect(metrics.text.contains("verdict_source_latency_seconds_bucket{source=\"abuseipdb\""))
                #expect(
                    metrics.text.contains(
                        "verdict_http_request_duration_seconds_bucket{route=\"/v1/enrichment/lookup\""
                    )
                )
                #expect(!metrics.text.contains("185.220.101.4"), "indicator values are never labels")
                #expect(!metrics.text.contains(key))
            }
        }
    }
}
