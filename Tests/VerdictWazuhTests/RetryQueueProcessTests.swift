import Foundation
import Testing
import VerdictCore
import VerdictStore
import VerdictTestSupport
import VerdictWazuh

/// Nothing lost on the integratord path, with real processes: custom-verdict in client mode against a Verdict
/// server that refuses, then hangs, then answers (a real `verdict serve`).
struct RetryQueueProcessTests {
    typealias WazuhHome = IntegrationProcessTests.WazuhHome

    static func alert(_ id: Int) -> String {
        #"{"timestamp":"2026-12-01T10:00:0\#(id % 10).000+0000","rule":{"level":10,"description":"sshd: brute force","id":"5712","groups":["sshd","authentication_failures"]},"agent":{"id":"001","name":"web-01","ip":"10.0.2.15"},"id":"1764583200.\#(id)","full_log":"Failed password for root from 185.220.101.4 port 22 ssh2","data":{"srcip":"185.220.101.4"},"location":"/var/log/auth.log"}"#
    }

    /// A key for a server on `directory`, made before the server starts (the alerts need it from the first).
    static func serverKey(_ directory: String) async throws -> String {
        let accounts = SQLiteAccountStore(database: try VerdictDatabase(directory: directory))
        return try await accounts.createKey(name: "manager-01", plan: .enterprise, monthlyCredits: nil).secret
    }

    /// `verdict serve` on `port`, answering from the home's local feeds.
    static func server(_ home: WazuhHome, port: Int, directory: String) async throws -> VerdictServeProcess {
        let server = try VerdictServeProcess(
            ["serve", "--port", String(port)],
            environment: [
                "VERDICT_DATA_DIR": directory, "VERDICT_FEEDS_DIR": home.feeds, "VERDICT_INTERNETDB_ENABLED": "false",
                "VERDICT_CONFIG": "",
            ]
        )
        _ = try await server.port()
        return server
    }

    func run(
        _ home: WazuhHome,
        _ id: Int,
        key: String,
        hook: String,
        timeout: String = "10",
        environment: [String: String] = [:]
    )
        async throws -> WazuhProcess.Finished
    {
        let alert = try home.file("custom-verdict-\(id).alert", Self.alert(id) + "\n")
        return try await home.runIntegration(
            IntegrationProcessTests.argv(alert: alert, key: key, hook: hook, timeout: timeout),
            environment: environment
        )
    }

    static func field(_ event: String, _ name: String) -> JSONValue? {
        guard let start = event.firstIndex(of: "{"), let payload = try? JSONValue(parsing: String(event[start...]))
        else { return nil }
        return payload["verdict"]?[name]
    }

    @Test func anOutageLosesNoAlert() async throws {
        let home = try WazuhHome()
        let directory = home.path + "/server-data"
        let key = try await Self.serverKey(directory)
        let port = try LoopbackPort.free()
        let hook = "http://127.0.0.1:\(port)"

        // The server is down (nothing listens): three alerts are kept, each says so in one event.
        for id in 1...3 {
            let run = try await run(home, id, key: key, hook: hook)
            #expect(run.status == 0, "integratord logs no error for a deferred alert: \(home.log)")
        }
        // Then it hangs: two more, each within its own 2 s budget.
        let hung = try await MockProviderServer(port: port) { _ in .hang }
        for id in 4...5 {
            let run = try await run(home, id, key: key, hook: hook, timeout: "2")
            #expect(run.status == 0, "\(home.log)")
            #expect(run.elapsed < .seconds(8))
        }
        try await hung.shutdown()
        let deferred = await home.receiver!.wait(for: 5)
        #expect(deferred.count == 5)
        #expect(deferred.allSatisfy { Self.field($0, "event") == .string("deferred") }, "\(deferred)")
        #expect(deferred.map { Self.field($0, "source")?["alert_id"] } == (1...5).map { .string("1764583200.\($0)") })
        #expect(Self.field(deferred[0], "reason")?.scalarText?.hasPrefix("cannot reach the Verdict server") == true)
        #expect(Self.field(deferred[4], "reason")?.scalarText?.contains("did not answer within") == true)
        #expect(Self.field(deferred[4], "queued") == .number("5"))
        #expect(home.log.components(separatedBy: "deferred, will retry").count - 1 == 5, "\(home.log)")

        // The server answers again: the next alert is enriched, and its run retries the five kept ones.
        let server = try await Self.server(home, port: port, directory: directory)
        defer { server.stop() }
        let run = try await run(home, 6, key: key, hook: hook)
        #expect(run.status == 0, "\(home.log)")
        let all = await home.receiver!.wait(for: 11)
        #expect(all.count == 11, "\(all)")
        let late = all.suffix(5)
        #expect(Self.field(all[5], "source")?["alert_id"] == .string("1764583200.6"))
        #expect(late.map { Self.field($0, "source")?["alert_id"] } == (1...5).map { .string("1764583200.\($0)") })
        #expect(late.allSatisfy { Self.field($0, "verdict") == .string("malicious") })
        #expect(late.allSatisfy { Self.field($0, "deferred_s")?.scalarText.flatMap { Int($0) } != nil })
        #expect(
            late.first.flatMap { Self.field($0, "source")?["alert_time"] } == .string("2026-12-01T10:00:01.000+0000")
        )
        #expect(!home.log.contains("error:"), "\(home.log)")
        let queue = SQLiteRetryQueue(database: try VerdictDatabase(directory: home.path + "/var/verdict"))
        #expect(try await queue.summary().queued == 0)
    }

    @Test func aFullQueueDropsTheOldestAndSaysHowMany() async throws {
        let home = try WazuhHome()
        let hook = "http://127.0.0.1:\(try LoopbackPort.free())"
        for id in 1...3 {
            let run = try await run(
                home,
                id,
                key: "vk_unused",
                hook: hook,
                environment: ["VERDICT_RETRY_MAX_ALERTS": "2"]
            )
            #expect(run.status == 0)
        }
        #expect(
            home.log.contains("2 alerts queued; the queue was full (retry.max_alerts 2): dropped the 1 oldest"),
            "\(home.log)"
        )
        let queue = SQLiteRetryQueue(database: try VerdictDatabase(directory: home.path + "/var/verdict"))
        let summary = try await queue.summary()
        #expect(summary.queued == 2 && summary.dropped == 1)
        let shown = try await ExtractRun.verdict(
            ["retry", "--wazuh-home", home.path],
            environment: ["VERDICT_DATA_DIR": home.path + "/var/verdict", "VERDICT_CONFIG": ""]
        )
        #expect(shown.contains("retry queue: 2 alerts queued, 1 dropped so far"), "\(shown)")
    }

    @Test func twoDrainersAtOnceNeverWriteAnAlertTwice() async throws {
        let home = try WazuhHome()
        let directory = home.path + "/server-data"
        let key = try await Self.serverKey(directory)
        let port = try LoopbackPort.free()
        let hook = "http://127.0.0.1:\(port)"
        for id in 1...12 { #expect(try await run(home, id, key: key, hook: hook).status == 0) }
        _ = await home.receiver!.wait(for: 12)
        _ = try home.file(
            "etc/ossec.conf",
            "<ossec_config><integration><name>custom-verdict</name><hook_url>\(hook)</hook_url><api_key>\(key)</api_key><level>5</level><alert_format>json</alert_format></integration></ossec_config>"
        )
        let server = try await Self.server(home, port: port, directory: directory)
        defer { server.stop() }
        let environment = [
            "VERDICT_DATA_DIR": home.path + "/var/verdict", "VERDICT_CONFIG": "", "VERDICT_INTERNETDB_ENABLED": "false",
        ]
        let outputs = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<2 {
                group.addTask {
                    try await ExtractRun.verdict(
                        ["retry", "--all", "--wazuh-home", home.path],
                        environment: environment
                    )
                }
            }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        let all = await home.receiver!.wait(for: 24)
        let late = all.dropFirst(12)
        #expect(late.count == 12, "\(outputs)")
        #expect(
            Set(late.compactMap { Self.field($0, "source")?["alert_id"]?.scalarText }).count == 12,
            "each alert once"
        )
        try await Task.sleep(for: .milliseconds(500))
        #expect(home.receiver!.datagrams.count == 24, "and nothing more")
        // Between them the two drained the twelve, each alert by one of them.
        let enriched = outputs.compactMap { output -> Int? in
            guard let range = output.range(of: #"retried: \d+ enriched"#, options: .regularExpression) else {
                return nil
            }
            return Int(output[range].dropFirst("retried: ".count).prefix { $0.isNumber })
        }
        #expect(enriched.count == 2 && enriched.reduce(0, +) == 12, "\(outputs)")
        let queue = SQLiteRetryQueue(database: try VerdictDatabase(directory: home.path + "/var/verdict"))
        #expect(try await queue.summary().queued == 0, "\(outputs)")
    }
}

/// Runs the built `verdict` with a clean environment and returns what it printed.
enum ExtractRun {
    static func verdict(_ arguments: [String], environment: [String: String]) async throws -> String {
        let finished = try await WazuhProcess.run(
            WazuhProcess.buildProducts.appendingPathComponent("verdict"),
            argv0: "verdict",
            arguments: arguments,
            home: FileManager.default.temporaryDirectory.path,
            environment: environment
        )
        return finished.output
    }
}
