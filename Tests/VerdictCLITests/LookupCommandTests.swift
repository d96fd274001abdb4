import Foundation
import Testing
import VerdictCore
import VerdictTestSupport

/// `verdict lookup` end to end: the built executable, mock providers on 127.0.0.1, a real SQLite cache.
struct LookupCommandTests {
    static let virusTotalAnswer = #"""
        {"data":{"id":"185.220.101.4","type":"ip_address","attributes":{"last_analysis_date":1716200000,
         "last_analysis_stats":{"harmless":60,"malicious":14,"suspicious":0,"undetected":20}}}}
        """#
    static let abuseIPDBAnswer = #"""
        {"data":{"ipAddress":"185.220.101.4","isPublic":true,"isWhitelisted":false,"abuseConfidenceScore":100,"totalReports":47,
         "numDistinctUsers":22,"lastReportedAt":"2024-05-29T18:33:12+00:00","isTor":true,"reports":[{"categories":[18,22]}]}}
        """#

    func environment(virusTotal: MockProviderServer, abuseIPDB: MockProviderServer, dataDirectory: String) -> [String:
        String]
    {
        [
            "VERDICT_VIRUSTOTAL_API_KEY": "vt-secret-key-42", "VERDICT_VIRUSTOTAL_URL": virusTotal.baseURL,
            "VERDICT_ABUSEIPDB_API_KEY": "abuse-secret-key-42", "VERDICT_ABUSEIPDB_URL": abuseIPDB.baseURL,
            "VERDICT_INTERNETDB_ENABLED": "false", "VERDICT_DATA_DIR": dataDirectory, "VERDICT_CONFIG": "",
        ]
    }

    @Test func looksUpCachesAndRefreshes() async throws {
        let dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "verdict-lookup-\(UUID().uuidString)"
        ).path
        defer { try? FileManager.default.removeItem(atPath: dataDirectory) }
        let virusTotalReply: MockProviderServer.Handler = { _ in .json(200, Self.virusTotalAnswer) }
        let abuseIPDBReply: MockProviderServer.Handler = { _ in .json(200, Self.abuseIPDBAnswer) }
        try await MockProviderServer.with(virusTotalReply) { virusTotal in
            try await MockProviderServer.with(abuseIPDBReply) { abuseIPDB in
                let environment = environment(
                    virusTotal: virusTotal,
                    abuseIPDB: abuseIPDB,
                    dataDirectory: dataDirectory
                )
                let first = try await ExtractCommandTests.run(
                    ["lookup", "--json", "185.220.101[.]4", "10.0.0.1"],
                    environment: environment
                )
                #expect(first.status == 0, "\(first.errors)")
                let results = try JSONValue(parsing: first.output)
                guard case .array(let reports) = results, reports.count == 2 else {
                    Issue.record("not two results: \(first.output)")
                    return
                }
                #expect(
                    reports[0]["indicator"]
                        == .object([
                            ("type", .string("ipv4")), ("value", .string("185.220.101.4")),
                            ("input", .string("185.220.101[.]4")),
                        ])
                )
                #expect(reports[0]["verdict"] == .string("malicious"))
                #expect(reports[0]["cached"] == .bool(false))
                #expect(reports[0]["summary"] == .string("2 of 2 sources: malicious (virustotal 14/94, abuseipdb 100)"))
                #expect(reports[1]["verdict"] == .string("suppressed"))
                #expect(reports[1]["reason"] == .string("private"))
                #expect(!first.output.contains("secret-key-42"))
                #expect(virusTotal.requests.count == 1 && abuseIPDB.requests.count == 1)

                let second = try await ExtractCommandTests.run(
                    ["lookup", "--json", "185.220.101.4"],
                    environment: environment
                )
                let again = try JSONValue(parsing: second.output)
                guard case .array(let cached) = again else { return }
                #expect(cached.first?["cached"] == .bool(true))
                #expect(virusTotal.requests.count == 1 && abuseIPDB.requests.count == 1)

                let table = try await ExtractCommandTests.run(
                    ["lookup", "--refresh", "--sources", "virustotal", "185.220.101.4"],
                    environment: environment
                )
                #expect(table.output.hasPrefix("185.220.101.4 (ipv4)  MALICIOUS"))
                #expect(table.output.contains("virustotal    ok"))
                #expect(virusTotal.requests.count == 2 && abuseIPDB.requests.count == 1)
            }
        }
    }

    @Test func noIndicatorsPrintsTheLookupUsage() async throws {
        let run = try await ExtractCommandTests.run(["lookup"], environment: ["VERDICT_CONFIG": ""])
        #expect(run.status != 0)
        #expect(run.errors.contains("give at least one indicator to look up"), "\(run.errors)")
        #expect(run.errors.contains("Usage: verdict lookup"), "the lookup usage, not the top-level one: \(run.errors)")
    }

    @Test func badInputAndChoicesAreClearErrors() async throws {
        let environment = [
            "VERDICT_DATA_DIR": FileManager.default.temporaryDirectory.path + "/verdict-lookup-errors",
            "VERDICT_CONFIG": "",
        ]
        let notIndicator = try await ExtractCommandTests.run(["lookup", "hello world"], environment: environment)
        #expect(notIndicator.status == 2)
        #expect(notIndicator.errors.hasPrefix("verdict: not an indicator: \"hello world\": not an IPv4"))
        let unknown = try await ExtractCommandTests.run(
            ["lookup", "--sources", "shodan", "1.2.3.4"],
            environment: environment
        )
        #expect(unknown.errors.hasPrefix("verdict: unknown source \"shodan\"; the sources are virustotal, abuseipdb"))
        let off = try await ExtractCommandTests.run(
            ["lookup", "--sources", "otx", "1.2.3.4"],
            environment: environment
        )
        #expect(off.errors == "verdict: source otx is off: no API key: set VERDICT_OTX_API_KEY\n")
        let badSetting = try await ExtractCommandTests.run(
            ["lookup", "1.2.3.4"],
            environment: environment.merging(["VERDICT_OTX_URL": "otx"]) { $1 }
        )
        #expect(badSetting.status == 2)
        #expect(badSetting.errors.contains("VERDICT_OTX_URL (otx.url in the YAML file): \"otx\" is not an http(s) URL"))
        let explain = try await ExtractCommandTests.run(["lookup", "--explain"], environment: environment)
        #expect(explain.status == 0)
        #expect(explain.output.contains("  otx            off  no API key: set VERDICT_OTX_API_KEY"))
        #expect(explain.output.contains("  internetdb     on   https://internetdb.shodan.io"))
    }

    /// `--explain` shows each outside source's shared budget as every process on the data directory sees it.
    @Test func explainShowsTheSharedBudget() async throws {
        let dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "verdict-explain-\(UUID().uuidString)"
        ).path
        defer { try? FileManager.default.removeItem(atPath: dataDirectory) }
        let virusTotalReply: MockProviderServer.Handler = { _ in .json(200, Self.virusTotalAnswer) }
        // AbuseIPDB says how many calls its day has left, and that is taken as the truth.
        let abuseIPDBReply: MockProviderServer.Handler = { _ in
            .json(
                200,
                Self.abuseIPDBAnswer,
                headers: [("X-RateLimit-Limit", "1000"), ("X-RateLimit-Remaining", "37")]
            )
        }
        try await MockProviderServer.with(virusTotalReply) { virusTotal in
            try await MockProviderServer.with(abuseIPDBReply) { abuseIPDB in
                var environment = environment(
                    virusTotal: virusTotal,
                    abuseIPDB: abuseIPDB,
                    dataDirectory: dataDirectory
                )
                environment["VERDICT_VIRUSTOTAL_RATE"] = "10/day"
                let before = try await ExtractCommandTests.run(["lookup", "--explain"], environment: environment)
                #expect(before.output.contains("now: 10 per day: 10 left, circuit closed"), "\(before.output)")
                for address in ["185.220.101.4", "45.155.205.99"] {
                    let run = try await ExtractCommandTests.run(["lookup", address], environment: environment)
                    #expect(run.status == 0, "\(run.errors)")
                }
                let after = try await ExtractCommandTests.run(["lookup", "--explain"], environment: environment)
                #expect(after.output.contains("now: 10 per day: 8 left, circuit closed"), "\(after.output)")
                #expect(after.output.contains("now: 1000 per day: 37 left, circuit closed"), "\(after.output)")
            }
        }
    }
}
