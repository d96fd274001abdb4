import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import VerdictCore
import VerdictEngine
import VerdictServer
import VerdictSources
import VerdictStore
import VerdictTestSupport

/// A client written against the hosted DFIR platform's documented shapes (providers.md §14), pointed at a
/// self-hosted Verdict: the same requests, envelopes, errors and headers.
struct DFIRPlatformAPITests {
    static func post(
        _ client: some TestClientProtocol,
        _ body: String,
        key: String?,
        contentType: String = "application/json"
    )
        async throws -> TestResponse
    {
        var headers: HTTPFields = [.contentType: contentType]
        if let key { headers[.authorization] = "Bearer \(key)" }
        return try await client.execute(
            uri: "/api/v1/enrichment/lookup",
            method: .post,
            headers: headers,
            body: ByteBuffer(string: body)
        )
    }

    @Test func thePlatformsRequestGetsThePlatformsAnswer() async throws {
        try await ServerHarness.with { harness, abuseIPDB in
            let key = try await harness.key(plan: .starter)
            try await harness.application().test(.router) { client in
                let body =
                    #"{"indicators": [{"type": "ip", "value": "185.220.101.4"}, {"type": "ip", "value": "10.0.0.5"}]}"#
                let answer = try await Self.post(client, body, key: key)
                #expect(answer.status == .ok)
                let document = try answer.json
                let results = document["data"]?["results"]?.items ?? []
                #expect(results.count == 2)
                #expect(
                    results[0]["indicator"] == .object([("type", .string("ip")), ("value", .string("185.220.101.4"))])
                )
                #expect(results[0]["verdict"] == .string("malicious"))
                #expect((70...100).contains(results[0]["score"]?.int ?? 0))
                #expect(results[0]["providers"]?["abuseipdb"]?["verdict"] == .string("malicious"))
                #expect(results[0]["providers"]?["abuseipdb"]?["score"]?.int == 100)
                #expect(results[0]["enriched_at"]?.scalarText?.hasSuffix("Z") == true)
                #expect(results[1]["verdict"] == .string("unknown"), "a private address: no provider data")
                let summary = document["data"]?["summary"]
                #expect(summary?["total"]?.int == 2 && summary?["malicious"]?.int == 1 && summary?["unknown"]?.int == 1)
                let meta = document["meta"]
                #expect(meta?["credits_used"]?.int == 3 && meta?["credits_remaining"]?.int == 497)
                #expect(meta?["request_id"]?.scalarText == answer.headers[HTTPField.Name("X-Request-Id")!])
                #expect(answer.headers[HTTPField.Name("X-Credits-Used")!] == "3")
                #expect(answer.headers[HTTPField.Name("X-Credits-Remaining")!] == "497")
                #expect(abuseIPDB.requests.count == 1)

                // A lookup like any other: cached the second time, free, and in the key's history.
                let again = try await Self.post(client, body, key: key).json
                #expect(again["meta"]?["credits_used"]?.int == 0)
                #expect(try await client.get("/v1/history", key: key).json["lookups"]?.items.count == 2)
            }
        }
    }

    @Test func errorsComeInThePlatformsShape() async throws {
        try await ServerHarness.with { harness, _ in
            let key = try await harness.key(plan: .free, credits: 3)
            try await harness.application { $0.keyRateLimit = nil }.test(.router) { client in
                let one = #"{"indicators": [{"type": "ip", "value": "185.220.101.4"}]}"#
                func error(_ response: TestResponse) throws -> (type: String?, code: String?, id: String?) {
                    let body = try response.json["error"]
                    return (body?["type"]?.scalarText, body?["code"]?.scalarText, body?["request_id"]?.scalarText)
                }
                let missing = try await Self.post(client, one, key: nil)
                #expect(missing.status == .unauthorized)
                #expect(
                    try error(missing).type == "authentication_error" && error(missing).code == "missing_authorization"
                )
                #expect(try error(missing).id == missing.headers[HTTPField.Name("X-Request-Id")!])
                let wrong = try await Self.post(client, one, key: "vk_" + String(repeating: "z", count: 40))
                #expect(try error(wrong).code == "api_key_invalid")

                let eleven = (0..<11).map { #"{"type": "ip", "value": "185.220.101.\#($0)"}"# }.joined(separator: ",")
                let tooMany = try await Self.post(client, #"{"indicators": [\#(eleven)]}"#, key: key)
                #expect(try tooMany.status == .badRequest && error(tooMany).type == "invalid_request")
                #expect(tooMany.text.contains("give 1 to 10 indicators"))
                let mistyped = try await Self.post(
                    client,
                    #"{"indicators": [{"type": "hash", "value": "185.220.101.4"}]}"#,
                    key: key
                )
                #expect(
                    mistyped.status == .badRequest && mistyped.text.contains("is of type ipv4, not hash"),
                    "\(mistyped.text)"
                )
                let plain = try await Self.post(client, one, key: key, contentType: "text/plain")
                #expect(try plain.status == .unsupportedMediaType && error(plain).type == "invalid_request")

                #expect(try await Self.post(client, one, key: key).status == .ok)
                let spent = try await Self.post(
                    client,
                    #"{"indicators": [{"type": "ip", "value": "45.155.205.233"}]}"#,
                    key: key
                )
                #expect(try spent.status.code == 402 && error(spent).type == "insufficient_credits")
            }
            let limited = try await harness.key("burst", plan: .starter)
            try await harness.application { $0.keyRateLimit = RateWindowLimit(limit: 1, seconds: 60) }.test(.router) {
                client in
                let one = #"{"indicators": [{"type": "domain", "value": "login-micros0ft-support.com"}]}"#
                _ = try await Self.post(client, one, key: limited)
                let refused = try await Self.post(client, one, key: limited)
                #expect(refused.status == .tooManyRequests)
                #expect(try refused.json["error"]?["type"] == .string("rate_limit_exceeded"))
                #expect(refused.headers[.retryAfter] != nil)
            }
        }
    }
}
