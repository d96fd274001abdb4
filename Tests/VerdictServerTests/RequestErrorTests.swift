import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import VerdictCore
import VerdictEngine
import VerdictSQLite
import VerdictServer
import VerdictSources
import VerdictStore
import VerdictTestSupport

/// Bad requests: each gets its status, a JSON error that says what was wrong, and the server goes on.
struct RequestErrorTests {
    static let good = #"{"indicators": ["185.220.101.4"]}"#

    @Test func badBodiesGetClearErrorsAndNothingIsCharged() async throws {
        try await ServerHarness.with { harness, abuseIPDB in
            let key = try await harness.key(plan: .starter)
            try await harness.application { $0.keyRateLimit = nil }.test(.router) { client in
                let cases: [(name: String, body: String, status: Int, code: String, mentions: String)] = [
                    ("malformed JSON", "{\"indicators\": [", 400, "malformed_json", "not valid JSON"),
                    ("not an object", "[\"1.2.3.4\"]", 400, "invalid_request", "not an array"),
                    ("no indicators member", "{}", 400, "invalid_request", "no \"indicators\""),
                    (
                        "indicators a string", #"{"indicators": "185.220.101.4"}"#, 400, "invalid_request",
                        "not a string"
                    ),
                    (
                        "refresh a string", #"{"indicators": ["185.220.101.4"], "refresh": "yes"}"#, 400,
                        "invalid_request", "\"refresh\" must be true or false"
                    ),
                    (
                        "sources a string", #"{"indicators": ["185.220.101.4"], "sources": "abuseipdb"}"#, 400,
                        "invalid_request", "\"sources\" must be an array"
                    ),
                    ("empty array", #"{"indicators": []}"#, 422, "no_indicators", "is empty"),
                    (
                        "101 indicators",
                        "{\"indicators\": [" + (1...101).map { "\"185.220.1.\($0)\"" }.joined(separator: ",") + "]}",
                        422, "too_many_indicators", "at most 100"
                    ),
                    (
                        "unknown source", #"{"indicators": ["185.220.101.4"], "sources": ["abuseipdb", "shodan"]}"#,
                        422, "unknown_sources", "\"shodan\""
                    ),
                    (
                        "source not configured", #"{"indicators": ["185.220.101.4"], "sources": ["misp"]}"#, 422,
                        "source_off", "misp is not configured"
                    ),
                    ("empty sources", #"{"indicators": ["185.220.101.4"], "sources": []}"#, 422, "no_sources", "empty"),
                    (
                        "a number among the sources", #"{"indicators": ["185.220.101.4"], "sources": [1]}"#, 400,
                        "invalid_request", "sources[0] is a number"
                    ),
                    (
                        "an empty indicator", #"{"indicators": ["185.220.101.4", ""]}"#, 422, "invalid_indicators",
                        "indicators[1]"
                    ),
                    ("misspelt member", #"{"indicator": ["185.220.101.4"]}"#, 422, "unknown_member", "\"indicator\""),
                ]
                for item in cases {
                    let response = try await client.lookup(item.body, key: key)
                    #expect(response.status.code == item.status, "\(item.name): \(response.text)")
                    #expect(response.errorCode == item.code, "\(item.name): \(response.text)")
                    let message = try response.json["error"]?["message"]?.scalarText ?? ""
                    #expect(message.contains(item.mentions), "\(item.name): \(message)")
                    #expect(response.headers[.contentType] == "application/json; charset=utf-8")
                }

                let invalid = try await client.lookup(
                    #"{"indicators": ["185.220.101.4", "not-an-indicator", 42, {"type": "sha256", "value": "abc"}, {"type": "cve", "value": "CVE-2024-1"}]}"#,
                    key: key
                )
                #expect(invalid.status == .unprocessableContent)
                #expect(invalid.errorCode == "invalid_indicators")
                let listed = try invalid.json["error"]?["invalid"]?.items ?? []
                #expect(listed.map { $0["index"]?.int } == [1, 2, 3, 4])
                #expect(listed[0]["input"] == .string("not-an-indicator"))
                #expect(listed[1]["input"] == .number("42"))
                #expect(listed[2]["reason"]?.scalarText?.contains("not a valid sha256 (64 hexadecimal digits)") == true)
                #expect(listed[3]["reason"]?.scalarText?.contains("unknown type \"cve\"") == true)

                var invalidUTF8 = ByteBuffer(string: "{\"indicators\": [\"")
                invalidUTF8.writeBytes([0xC3, 0x28, 0xFF])
                invalidUTF8.writeString("\"]}")
                let garbled = try await client.execute(
                    uri: "/v1/enrichment/lookup",
                    method: .post,
                    headers: [.authorization: "Bearer \(key)", .contentType: "application/json"],
                    body: invalidUTF8
                )
                #expect(garbled.status == .badRequest)
                #expect(garbled.errorCode == "malformed_json")
                #expect(garbled.text.contains("UTF-8"))

                let huge = try await client.execute(
                    uri: "/v1/enrichment/lookup",
                    method: .post,
                    headers: [.authorization: "Bearer \(key)", .contentType: "application/json"],
                    body: ByteBuffer(repeating: UInt8(ascii: " "), count: 10 << 20)
                )
                #expect(huge.status == .contentTooLarge)
                #expect(huge.errorCode == "body_too_large")

                for contentType in [nil, "text/plain", "application/x-www-form-urlencoded"] {
                    let response = try await client.lookup(Self.good, key: key, contentType: contentType)
                    #expect(response.status == .unsupportedMediaType, "\(contentType ?? "none")")
                    #expect(response.errorCode == "unsupported_media_type")
                }
                #expect(
                    try await client.lookup(Self.good, key: key, contentType: "application/json; charset=utf-8").status
                        == .ok
                )

                #expect(abuseIPDB.requests.count == 1, "only the valid requests reached a source")
                let usage = try await client.get("/v1/usage", key: key).json
                #expect(usage["credits"]?["used"]?.int == 3)
            }
        }
    }

    @Test func keysAreCheckedAndNeverEchoed() async throws {
        try await ServerHarness.with { harness, abuseIPDB in
            let key = try await harness.key(plan: .starter)
            let revoked = try await harness.key("old", plan: .starter)
            #expect(try await harness.accounts.revokeKey(named: "old"))
            try await harness.application().test(.router) { client in
                let cases: [(String, HTTPFields, String)] = [
                    ("no header", [:], "missing_api_key"),
                    ("basic auth", [.authorization: "Basic dXNlcjpwYXNz"], "invalid_authorization"),
                    ("bearer without key", [.authorization: "Bearer"], "invalid_authorization"),
                    (
                        "key with a space", [.authorization: "Bearer \(key.prefix(10)) \(key.dropFirst(10))"],
                        "malformed_api_key"
                    ),
                    (
                        "key with a tab", [.authorization: "Bearer \(key.prefix(10))\t\(key.dropFirst(10))"],
                        "malformed_api_key"
                    ),
                    (
                        "unknown key", [.authorization: "Bearer vk_" + String(repeating: "A", count: 40)],
                        "unknown_api_key"
                    ),
                    ("not our format", [.authorization: "Bearer 12345"], "unknown_api_key"),
                    (
                        "one character changed",
                        [.authorization: "Bearer \(key.dropLast())\(key.hasSuffix("x") ? "y" : "x")"], "unknown_api_key"
                    ),
                    ("revoked key", [.authorization: "Bearer \(revoked)"], "unknown_api_key"),
                ]
                for (name, headers, code) in cases {
                    var fields = headers
                    fields[.contentType] = "application/json"
                    let response = try await client.execute(
                        uri: "/v1/enrichment/lookup",
                        method: .post,
                        headers: fields,
                        body: ByteBuffer(string: Self.good)
                    )
                    #expect(response.status == .unauthorized, "\(name)")
                    #expect(response.errorCode == code, "\(name): \(response.text)")
                    #expect(response.headers[.wwwAuthenticate] == "Bearer")
                    #expect(!response.text.contains(key) && !response.text.contains(String(key.dropFirst(10))))
                }
                #expect(try await client.get("/v1/usage").status == .unauthorized)
                #expect(abuseIPDB.requests.isEmpty)

                // Trailing spaces are stripped by HTTP itself; the key still works.
                let padded = try await client.lookup(Self.good, key: key + "  ")
                #expect(padded.status == .ok)

                // Revoking a key in use: refused within a second.
                #expect(try await harness.accounts.revokeKey(named: "soc1"))
                try await Task.sleep(for: .milliseconds(1100))
                #expect(try await client.lookup(Self.good, key: key).status == .unauthorized)
            }
        }
    }

    /// A key revoked after its request was let in (the server remembers a checked key for a second) spends
    /// nothing and reaches no source.
    @Test func aKeyRevokedMidRequestIsRefusedAtTheReservation() async throws {
        try await ServerHarness.with { harness, abuseIPDB in
            let key = try await harness.key("leaving", plan: .starter)
            try await harness.application().test(.router) { client in
                #expect(try await client.lookup(Self.good, key: key).status == .ok)
                #expect(abuseIPDB.requests.count == 1)
                #expect(try await harness.accounts.revokeKey(named: "leaving"))
                let after = try await client.lookup(#"{"indicators": ["185.220.101.77"]}"#, key: key)
                #expect(after.status == .unauthorized, "\(after.text)")
                #expect(after.errorCode == "unknown_api_key")
                #expect(abuseIPDB.requests.count == 1, "nothing reached a source")
            }
        }
    }

    @Test func metricsCanRequireAKey() async throws {
        try await ServerHarness.with { harness, _ in
            let key = try await harness.key(plan: .starter)
            try await harness.application().test(.router) { client in
                let open = try await client.get("/metrics")
                #expect(open.status == .ok, "open by default, for a scraper on loopback")
            }
            try await harness.application { $0.metricsRequireKey = true }.test(.router) { client in
                let anonymous = try await client.get("/metrics")
                #expect(anonymous.status == .unauthorized && anonymous.errorCode == "missing_api_key")
                let keyed = try await client.get("/metrics", key: key)
                #expect(keyed.status == .ok && keyed.text.contains("verdict_"))
            }
        }
    }

    @Test func eachKeyHasARequestRateLimit() async throws {
        try await ServerHarness.with { harness, _ in
            let busy = try await harness.key("busy", plan: .starter)
            let quiet = try await harness.key("quiet", plan: .starter)
            let app = harness.application { $0.keyRateLimit = RateWindowLimit(limit: 3, seconds: 60) }
            try await app.test(.router) { client in
                for _ in 0..<3 { #expect(try await client.get("/v1/usage", key: busy).status == .ok) }
                let limited = try await client.get("/v1/usage", key: busy)
                #expect(limited.status == .tooManyRequests)
                #expect(limited.errorCode == "rate_limited")
                let retryAfter = Int(limited.headers[.retryAfter] ?? "") ?? 0
                #expect((1...20).contains(retryAfter), "one request per 20 s: \(retryAfter)")
                #expect(try await client.get("/v1/usage", key: quiet).status == .ok, "limits are per key")
            }
        }
    }

    @Test func unknownRoutesAndMethodsAnswerInJSON() async throws {
        try await ServerHarness.with { harness, _ in
            try await harness.application().test(.router) { client in
                let missing = try await client.get("/v1/nothing-here")
                #expect(missing.status == .notFound)
                #expect(missing.errorCode == "not_found")
                #expect(missing.headers[HTTPField.Name("X-Request-Id")!] != nil)
                let page = try await client.get("/")
                #expect(page.status == .ok)
                #expect(page.headers[.contentType] == "text/html; charset=utf-8")
                #expect(page.text.contains(#"<script src="/console.js" defer></script>"#))
                // The page's script and style are files of this server, compiled into it: none from elsewhere.
                let script = try await client.get("/console.js")
                #expect(script.headers[.contentType] == "text/javascript; charset=utf-8")
                #expect(script.text.contains("/v1/enrichment/lookup") && script.text.contains("/v1/extract"))
                let style = try await client.get("/console.css")
                #expect(style.headers[.contentType] == "text/css; charset=utf-8")
                for text in [page.text, script.text, style.text] {
                    #expect(!text.contains("https://") && !text.contains("//cdn"), "nothing is loaded from elsewhere")
                }
                for answer in [page, missing] {
                    #expect(answer.headers[.contentSecurityPolicy]?.contains("frame-ancestors 'none'") == true)
                    #expect(answer.headers[.contentSecurityPolicy]?.contains("script-src 'self';") == true)
                    #expect(answer.headers[.contentSecurityPolicy]?.contains("default-src 'none'") == true)
                    #expect(answer.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff")
                    #expect(answer.headers[HTTPField.Name("X-Frame-Options")!] == "DENY")
                }
                // Request IDs are random, not a count of what others sent.
                let ids = [page, missing].compactMap { $0.headers[HTTPField.Name("X-Request-Id")!] }
                #expect(ids.count == 2 && Set(ids).count == 2)
                #expect(ids.allSatisfy { $0.count == 16 && UInt64($0, radix: 16) != nil }, "\(ids)")
                #expect(!ids.contains { UInt64($0, radix: 16)! < 1_000_000 }, "\(ids)")
                let icon = try await client.get("/favicon.ico")
                #expect(icon.status == .ok)
                #expect(icon.headers[.contentType] == "image/svg+xml")
                #expect(icon.text.hasPrefix("<svg"))

                // A known path asked with the wrong method: 405 and what it takes, not "no route".
                let wrongMethod = try await client.get("/v1/enrichment/lookup")
                #expect(wrongMethod.status == .methodNotAllowed)
                #expect(wrongMethod.headers[.allow] == "POST")
                #expect(wrongMethod.errorCode == "method_not_allowed")
                let deleteUsage = try await client.execute(uri: "/v1/usage", method: .delete)
                #expect(deleteUsage.status == .methodNotAllowed)
                #expect(deleteUsage.headers[.allow] == "GET")

                // A trailing slash names the same route, key check included.
                let key = try await harness.key(plan: .starter)
                #expect(try await client.get("/v1/usage/", key: key).status == .ok)
                #expect(try await client.lookup(Self.good, key: key).status == .ok)
                let slashed = try await client.execute(
                    uri: "/v1/enrichment/lookup/",
                    method: .post,
                    headers: [.authorization: "Bearer \(key)", .contentType: "application/json"],
                    body: ByteBuffer(string: Self.good)
                )
                #expect(slashed.status == .ok, "\(slashed.text)")
            }
        }
    }
}

/// The token-bucket setting under its engine name, for readability in these tests.
typealias RateWindowLimit = VerdictSources.RateWindow
