import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing
import VerdictCore
import VerdictTestSupport

/// `verdict serve`, `verdict keys` and `verdict usage` as users run them: real processes, a real port,
/// SIGTERM in the middle of a request.
struct ServeCommandTests {
    /// A `verdict serve` process whose output goes to a file, so the test can wait for its address.
    static func dataDirectory() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("verdict-serve-data-\(UUID().uuidString)").path
    }

    @Test func firstStartCreatesAnAdminKeyAndPrintsItOnce() async throws {
        let directory = Self.dataDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let environment = ["VERDICT_DATA_DIR": directory, "VERDICT_INTERNETDB_ENABLED": "false", "VERDICT_CONFIG": ""]
        let server = try VerdictServeProcess(["serve", "--port", "0"], environment: environment)
        defer { server.stop() }
        let port = try await server.port()
        // The key goes to a file only this user can read, never to standard output (often a shared journal).
        #expect(!server.text.contains("vk_"), "\(server.text)")
        #expect(server.text.contains("created the key \"admin\""))
        #expect(server.text.contains("\(directory)/admin-key"))
        let keyFile = directory + "/admin-key"
        let key = try String(contentsOfFile: keyFile, encoding: .utf8).trimmingCharacters(in: .newlines)
        #expect(key.hasPrefix("vk_") && key.count == 43)
        let mode = try FileManager.default.attributesOfItem(atPath: keyFile)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(server.text.contains("verdict: data directory \(directory)\n"))
        #expect(server.text.contains("verdict: database \(directory)/verdict.sqlite "))
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/usage")
        request.headers.add(name: "Authorization", value: "Bearer \(key)")
        let response = try await http.execute(request, timeout: .seconds(10))
        let body = String(buffer: try await response.body.collect(upTo: 1 << 20))
        try await http.shutdown()
        #expect(response.status.code == 200)
        #expect(body.contains(#""name":"admin","plan":"enterprise""#))
        server.stop()

        let list = try await ExtractCommandTests.run(["keys", "list"], environment: environment)
        #expect(list.output.contains("admin"))
        #expect(!list.output.contains(key), "the secret is never shown again")
        #expect(list.output.contains(String(key.prefix(11))), "the prefix identifies it")

        let again = try VerdictServeProcess(["serve", "--port", "0"], environment: environment)
        defer { again.stop() }
        _ = try await again.port()
        #expect(!again.text.contains("vk_"), "a store with keys creates none")
    }

    @Test func sigtermLetsTheRequestInFlightFinishAndKeepsItsCharge() async throws {
        let directory = Self.dataDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let slowAnswer: MockProviderServer.Handler = { _ in
            .delayed(milliseconds: 1500, .json(200, LookupCommandTests.abuseIPDBAnswer))
        }
        try await MockProviderServer.with(slowAnswer) { abuseIPDB in
            let environment = [
                "VERDICT_DATA_DIR": directory, "VERDICT_INTERNETDB_ENABLED": "false", "VERDICT_CONFIG": "",
                "VERDICT_ABUSEIPDB_API_KEY": "abuse-secret-key-42", "VERDICT_ABUSEIPDB_URL": abuseIPDB.baseURL,
            ]
            let created = try await ExtractCommandTests.run(
                ["keys", "create", "--name", "soc1", "--plan", "starter"],
                environment: environment
            )
            #expect(created.status == 0, "\(created.errors)")
            let key = created.output.split(separator: "\n").last.map(String.init) ?? ""
            #expect(key.hasPrefix("vk_") && key.count == 43, "the key alone on the last line: \(created.output)")
            #expect(created.output.contains("500 credits a month"))
            #expect(
                created.output.hasPrefix("database: \(directory)/verdict.sqlite\n"),
                "keys live per database: say which"
            )

            let duplicate = try await ExtractCommandTests.run(
                ["keys", "create", "--name", "soc1", "--plan", "starter"],
                environment: environment
            )
            #expect(duplicate.status == 2)
            #expect(duplicate.errors.contains("a key named \"soc1\" already exists"))
            let badPlan = try await ExtractCommandTests.run(
                ["keys", "create", "--name", "x", "--plan", "gold"],
                environment: environment
            )
            #expect(badPlan.status == 2)
            #expect(
                badPlan.errors.contains("unknown plan \"gold\"; the plans are free, starter, professional, enterprise")
            )

            let server = try VerdictServeProcess(["serve", "--port", "0"], environment: environment)
            defer { server.stop() }
            let port = try await server.port()
            let http = HTTPClient(eventLoopGroupProvider: .singleton)
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/enrichment/lookup")
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Bearer \(key)")
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: #"{"indicators": ["185.220.101.4"]}"#))
            async let answer = http.execute(request, timeout: .seconds(20))
            // The provider answers 1.5 s after it is asked; SIGTERM arrives as soon as it has been, while the
            // request waits for it. (Before asking, the server takes the source's shared window in the store, so
            // on a loaded machine the call can take a moment to leave.)
            for _ in 0..<400 where abuseIPDB.requests.isEmpty { try await Task.sleep(for: .milliseconds(25)) }
            #expect(abuseIPDB.requests.count == 1)
            server.process.terminate()
            let response = try await answer
            let body = String(buffer: try await response.body.collect(upTo: 1 << 20))
            try await http.shutdown()
            #expect(response.status.code == 200)
            #expect(body.contains(#""credits":{"charged":3,"remaining":497}"#), "\(body)")
            server.process.waitUntilExit()
            #expect(server.process.terminationStatus == 0, "\(server.text)")
            #expect(!server.text.contains("abuse-secret-key-42") && !server.text.contains(key))
            #expect(server.text.contains("verdict.key.name=soc1"), "the access log names the key")

            let usage = try await ExtractCommandTests.run(["usage", "--name", "soc1"], environment: environment)
            let row = usage.output.split(separator: "\n").last.map { $0.split(separator: " ").map(String.init) } ?? []
            // NAME MONTH CREDITS-USED LEFT REQUESTS LOOKUPS CACHE-HITS UPSTREAM
            #expect(row == ["soc1", usageMonthNow(), "3", "497", "1", "1", "0", "1"], "\(usage.output)")

            let revoked = try await ExtractCommandTests.run(["keys", "revoke", "soc1"], environment: environment)
            #expect(revoked.status == 0 && revoked.output.hasSuffix("\nrevoked key \"soc1\"\n"))
            let twice = try await ExtractCommandTests.run(["keys", "revoke", "soc1"], environment: environment)
            #expect(twice.status == 2)
            #expect(twice.errors.contains("no active key named \"soc1\""))
        }
    }

    @Test func badSettingsAndDatabasesStopTheStartWithTheirFix() async throws {
        let directory = Self.dataDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Nothing listens on port 1: the start stops at once, naming the database but never its password.
        let postgres = try await ExtractCommandTests.run(
            ["serve", "--database", "postgres://verdict:hunter2@127.0.0.1:1/verdict?sslmode=disable"],
            environment: ["VERDICT_DATA_DIR": directory, "VERDICT_CONFIG": ""]
        )
        #expect(postgres.status == 2)
        #expect(
            postgres.errors.contains(
                "cannot connect to the PostgreSQL database postgres://verdict@127.0.0.1:1/verdict"
            ),
            "\(postgres.errors)"
        )
        #expect(postgres.errors.contains("connection refused"), "\(postgres.errors)")
        #expect(!(postgres.errors + postgres.output).contains("hunter2"))
        let mode = try await ExtractCommandTests.run(
            ["keys", "list", "--database", "postgres://verdict:hunter2@127.0.0.1/verdict?sslmode=sometimes"],
            environment: ["VERDICT_DATA_DIR": directory, "VERDICT_CONFIG": ""]
        )
        #expect(mode.status == 2)
        #expect(mode.errors.contains("sslmode=sometimes is not one of disable, prefer, require, verify-full"))
        let rate = try await ExtractCommandTests.run(
            ["serve"],
            environment: ["VERDICT_DATA_DIR": directory, "VERDICT_SERVER_KEY_RATE_LIMIT": "lots", "VERDICT_CONFIG": ""]
        )
        #expect(rate.status == 2)
        #expect(rate.errors.contains("VERDICT_SERVER_KEY_RATE_LIMIT"))
    }

    @Test func aSecondServerOnABusyPortSaysSoAndMakesNoKey() async throws {
        let first = Self.dataDirectory()
        let second = Self.dataDirectory()
        defer {
            try? FileManager.default.removeItem(atPath: first)
            try? FileManager.default.removeItem(atPath: second)
        }
        let quiet = ["VERDICT_INTERNETDB_ENABLED": "false", "VERDICT_CONFIG": ""]
        let server = try VerdictServeProcess(
            ["serve", "--port", "0"],
            environment: quiet.merging(["VERDICT_DATA_DIR": first]) { $1 }
        )
        defer { server.stop() }
        let port = try await server.port()
        let environment = quiet.merging(["VERDICT_DATA_DIR": second]) { $1 }
        let busy = try await ExtractCommandTests.run(["serve", "--port", String(port)], environment: environment)
        #expect(busy.status == 2)
        #expect(
            busy.errors.contains("cannot listen on 127.0.0.1:\(port): the port is in use")
                && busy.errors.contains("--port"),
            "\(busy.errors)"
        )
        #expect(!busy.errors.contains("errno"), "a sentence, not the system call")
        #expect(!busy.output.contains("vk_"), "a start that cannot listen makes no key")
        #expect(!FileManager.default.fileExists(atPath: second + "/admin-key"))
        let keys = try await ExtractCommandTests.run(["keys", "list"], environment: environment)
        #expect(keys.output.contains("no keys"), "\(keys.output)")
    }

    func usageMonthNow() -> String {
        let parts = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: Date())
        return String(format: "%04d-%02d", parts.year!, parts.month!)
    }
}
