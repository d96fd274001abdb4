import Foundation
import Synchronization
import Testing
import VerdictCore
import VerdictEngine
import VerdictSQLite
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
        #expect(deferred.allSatisfy { Self.field($0, "deferred")?.scalarText?.isEmpty == false }, "\(deferred)")
        #expect(deferred.map { Self.field($0, "source")?["alert_id"] } == (1...5).map { .string("1764583200.\($0)") })
        #expect(Self.field(deferred[0], "deferred")?.scalarText?.hasPrefix("cannot reach the Verdict server") == true)
        #expect(Self.field(deferred[4], "deferred")?.scalarText?.contains("did not answer within") == true)
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

    @Test func verdictServeOnTheSameDataDirectoryDrainsTheQueue() async throws {
        let home = try WazuhHome()
        let hook = "http://127.0.0.1:\(try LoopbackPort.free())"
        for id in 1...3 { #expect(try await run(home, id, key: "vk_unused", hook: hook).status == 0) }
        _ = await home.receiver!.wait(for: 3)
        let server = try await Self.server(home, port: 0, directory: home.path + "/var/verdict")
        defer { server.stop() }
        let all = await home.receiver!.wait(for: 6, timeout: .seconds(30))
        let late = all.dropFirst(3)
        #expect(
            late.map { Self.field($0, "source")?["alert_id"] } == (1...3).map { .string("1764583200.\($0)") },
            "\(server.text)"
        )
        #expect(late.allSatisfy { Self.field($0, "deferred_s") != nil })
    }

    /// verdict-ar under execd: VirusTotal failing is no answer (the local feed knows nothing of the address), so
    /// the alert is kept, and the response exits 0.
    @Test func theActiveResponseKeepsAnUnansweredAlertToo() async throws {
        let home = try WazuhHome()
        let failing: MockProviderServer.Handler = { _ in
            .json(503, #"{"error":{"code":"TransientError","message":"try later"}}"#)
        }
        try await MockProviderServer.with(failing) { virusTotal in
            let message =
                #"{"version":1,"origin":{"name":"node01","module":"wazuh-execd"},"command":"add","parameters":{"extra_args":[],"alert":"#
                + Self.alert(1).replacingOccurrences(of: "185.220.101.4", with: "45.155.205.77")
                + #","program":"active-response/bin/verdict-ar"}}"# + "\n"
            let run = try await home.runActiveResponse(
                message,
                environment: ["VERDICT_VIRUSTOTAL_API_KEY": "vt", "VERDICT_VIRUSTOTAL_URL": virusTotal.baseURL]
            )
            #expect(run.status == 0)
        }
        let log = (try? String(contentsOfFile: home.path + "/logs/active-responses.log", encoding: .utf8)) ?? ""
        #expect(log.contains("deferred, will retry (no outside source answered: virustotal error)"), "\(log)")
        let events = await home.receiver!.wait(for: 1)
        #expect(
            events.first.flatMap { Self.field($0, "deferred") }
                == .string("no outside source answered: virustotal error")
        )
        #expect(events.first.flatMap { Self.field($0, "indicators") } == .string("45.155.205.77"))
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

/// The queue and the drainer in-process: limits, leases, tries, and what is written when tries run out.
struct RetryQueueTests {
    /// Answers every indicator as found malicious, or with VirusTotal failing as `failure` says.
    final class ScriptedBackend: LookupBackend {
        /// nil: found malicious; else VirusTotal's status (`error`, `quota_exhausted`).
        let failure: String?
        var mode: String { "embedded" }

        init(failure: String?) {
            self.failure = failure
        }

        func lookUp(_ found: [FoundIndicator], sources: Set<String>?, within budget: Duration) async throws
            -> [IndicatorOutcome]
        {
            // Shaped as a Verdict server answers (docs/contracts.md §2).
            return found.map { item in
                let source =
                    failure.map { #"{"source":"virustotal","status":"\#($0)","error":"virustotal: no answer"}"# }
                    ?? #"{"source":"virustotal","status":"ok","verdict":"malicious","score":90}"#
                let verdict = failure == nil ? "malicious" : "unknown"
                let result = try! JSONValue(
                    parsing:
                        #"{"indicator":{"type":"\#(item.indicator.type.rawValue)","value":"\#(item.indicator.value)"},"verdict":"\#(verdict)","score":0,"confidence":"medium","summary":"","cached":false,"sources":[\#(source)]}"#
                )
                return IndicatorOutcome(apiResult: result, field: item.field)!
            }
        }
    }

    /// A queue in a data directory of its own.
    static func queue() throws -> SQLiteRetryQueue {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "queue-\(UUID().uuidString.prefix(8))"
        )
        return SQLiteRetryQueue(database: try VerdictDatabase(directory: directory.path))
    }

    static func entry(_ id: Int, home: String, at time: Double) -> DeferredAlert {
        DeferredAlert(
            alert: Array(RetryQueueProcessTests.alert(id).utf8),
            options: IntegrationOptions().json,
            home: home,
            pending: nil,
            reason: "test",
            deferredAt: time
        )
    }

    @Test func boundsLeasesAndTries() async throws {
        let queue = try Self.queue()
        let limits = RetrySettings(maxAlerts: 3, maxAgeSeconds: 600)
        let now = 1_796_126_400.0
        // Too old and too many: both dropped, both counted.
        _ = try await queue.enqueue(Self.entry(1, home: "/h", at: now - 700), limits: limits, at: now)
        for id in 2...5 { _ = try await queue.enqueue(Self.entry(id, home: "/h", at: now), limits: limits, at: now) }
        var summary = try await queue.summary()
        #expect(summary.queued == 3 && summary.dropped == 2)
        // A claim is held until its lease ends; others see the rest.
        let first = try await queue.claim(limit: 2, lease: 30, at: now)
        let second = try await queue.claim(limit: 2, lease: 30, at: now + 1)
        #expect(first.count == 2 && second.count == 1)
        #expect(Set(first.map(\.id)).isDisjoint(with: second.map(\.id)))
        #expect(try await queue.claim(limit: 5, lease: 30, at: now + 2).isEmpty)
        // A dead drainer's lease runs out; given back, an alert keeps what is pending and counts a try.
        let again = try await queue.claim(limit: 5, lease: 30, at: now + 40)
        #expect(again.count == 3)
        try await queue.giveBack(again[0].id, pending: ["185.220.101.4"], reason: "still nothing", countsAsTry: true)
        let retried = try await queue.claim(limit: 1, lease: 30, at: now + 41)
        #expect(retried.first?.pending == ["185.220.101.4"] && retried.first?.attempts == 1)
        try await queue.finish(again[1].id)
        summary = try await queue.summary()
        #expect(summary.queued == 2)
        #expect(summary.reasons.map(\.reason).contains("still nothing"))
    }

    @Test func afterMaxAttemptsTheEventsAreWrittenWithWhatAnswered() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "retry-\(UUID().uuidString.prefix(8))"
        ).path
        try FileManager.default.createDirectory(atPath: folder + "/queue/sockets", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let receiver = try DatagramReceiver(path: folder + "/queue/sockets/queue")
        defer { receiver.close() }
        let queue = try Self.queue()
        let settings = RetrySettings(maxAttempts: 2)
        var unknown = IntegrationOptions()
        unknown.minimumVerdict = nil
        var kept = Self.entry(7, home: folder, at: Date().timeIntervalSince1970 - 30)
        kept.options = unknown.json
        _ = try await queue.enqueue(kept, limits: settings, at: Date().timeIntervalSince1970)
        let lines = Mutex<[String]>([])
        let log: @Sendable (String) -> Void = { line in lines.withLock { $0.append(line) } }
        // A spent quota asks nobody: however often it is met, the alert waits and no try is used up.
        let outOfQuota = RetryDrainer(
            backend: ScriptedBackend(failure: "quota_exhausted"),
            suppressor: Suppressor(),
            queue: queue,
            settings: settings
        )
        for _ in 0..<3 {
            #expect(await outOfQuota.drain(limit: 5, deadline: .now + .seconds(20), log: log).stillWaiting == 1)
        }
        let waiting = try await queue.claim(limit: 1, lease: 0, at: Date().timeIntervalSince1970)
        #expect(waiting.first?.attempts == 0)
        // A source that was asked and failed is a try; after max_attempts the events go with what answered.
        let failing = RetryDrainer(
            backend: ScriptedBackend(failure: "error"),
            suppressor: Suppressor(),
            queue: queue,
            settings: settings
        )
        let first = await failing.drain(limit: 5, deadline: .now + .seconds(20), log: log)
        #expect(first.stillWaiting == 1 && first.eventsWritten == 0)
        #expect(try await queue.summary().queued == 1)
        let second = await failing.drain(limit: 5, deadline: .now + .seconds(20), log: log)
        #expect(second.givenUp == 1)
        #expect(try await queue.summary().queued == 0)
        let events = await receiver.wait(for: 1)
        #expect(events.first?.contains(#""verdict":"unknown""#) == true)
        #expect(events.first?.contains(#""error_sources":"virustotal""#) == true)
        #expect(events.first?.contains(#""deferred_s":"#) == true)
        #expect(
            lines.withLock { $0 }.last?.contains("written with what answered after 2 tries") == true,
            "\(lines.withLock { $0 })"
        )
    }
}
