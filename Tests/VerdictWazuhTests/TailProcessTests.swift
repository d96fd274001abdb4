import AsyncHTTPClient
import Foundation
import NIOCore
import Testing
import VerdictCore
import VerdictEngine
import VerdictSQLite
import VerdictStore
import VerdictTestSupport
import VerdictWazuh

#if canImport(Glibc)
import Glibc
#endif

/// `verdict tail` as a real process on a temporary Wazuh home: alerts written while it runs, rotation,
/// truncation, SIGKILL and restart, analysisd's socket going away and coming back, bad lines.
@Suite(.serialized) struct TailProcessTests {
    final class Home: Sendable {
        let path: String
        var alerts: String { path + "/logs/alerts/alerts.json" }
        var socket: String { path + "/queue/sockets/queue" }

        init() throws {
            path =
                FileManager.default.temporaryDirectory.appendingPathComponent("tail-\(UUID().uuidString.prefix(8))")
                .path
            for folder in ["queue/sockets", "logs/alerts", "etc", "feeds/blocklists", "data"] {
                try FileManager.default.createDirectory(atPath: path + "/" + folder, withIntermediateDirectories: true)
            }
            try "185.220.101.4\n".write(toFile: path + "/feeds/blocklists/soc.txt", atomically: true, encoding: .utf8)
            try """
            <ossec_config>
              <integration>
                <name>custom-verdict</name>
                <level>5</level>
                <group>sshd</group>
                <alert_format>json</alert_format>
              </integration>
            </ossec_config>
            """.write(toFile: path + "/etc/ossec.conf", atomically: true, encoding: .utf8)
            _ = FileManager.default.createFile(atPath: alerts, contents: nil)
        }

        deinit {
            try? FileManager.default.removeItem(atPath: path)
        }

        /// Starts `verdict tail`; its standard error goes to logs/tail.log.
        func start(_ extra: [String] = []) throws -> Process {
            let process = Process()
            process.executableURL = WazuhProcess.buildProducts.appendingPathComponent("verdict")
            process.arguments = ["tail", "--wazuh-home", path, "--from-start", "--concurrency", "4"] + extra
            var environment = ProcessInfo.processInfo.environment
            for name in environment.keys where name.hasPrefix("VERDICT_") { environment.removeValue(forKey: name) }
            environment["VERDICT_DATA_DIR"] = path + "/data"
            environment["VERDICT_FEEDS_DIR"] = path + "/feeds"
            environment["VERDICT_INTERNETDB_ENABLED"] = "false"
            process.environment = environment
            if !FileManager.default.fileExists(atPath: path + "/logs/tail.log") {
                _ = FileManager.default.createFile(atPath: path + "/logs/tail.log", contents: nil)
            }
            let log = try FileHandle(forWritingTo: URL(fileURLWithPath: path + "/logs/tail.log"))
            log.seekToEndOfFile()
            process.standardError = log
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            return process
        }

        var log: String { (try? String(contentsOfFile: path + "/logs/tail.log", encoding: .utf8)) ?? "" }

        /// An sshd alert (level 10) with one malicious indicator, so one event each.
        func alert(_ id: String, level: Int = 10, group: String = "sshd") -> String {
            #"{"rule":{"level":\#(level),"id":"5712","description":"sshd: brute force","groups":["\#(group)"]},"agent":{"id":"001","name":"web-01","ip":"10.0.2.15"},"id":"\#(id)","full_log":"Failed password for root from 185.220.101.4","data":{"srcip":"185.220.101.4"},"location":"/var/log/auth.log"}"#
        }

        func append(_ text: String) throws {
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: alerts))
            handle.seekToEndOfFile()
            handle.write(Data(text.utf8))
            try handle.close()
        }

        func append(ids: [String]) throws {
            try append(ids.map { alert($0) + "\n" }.joined())
        }
    }

    static func alertIDs(_ texts: [String]) -> [String] {
        texts.compactMap { text in
            guard let start = text.range(of: #""alert_id":""#)?.upperBound,
                let end = text[start...].firstIndex(of: "\"")
            else { return nil }
            return String(text[start..<end])
        }
    }

    /// Waits until `count` different alerts' events arrived (a duplicate must not end the wait early).
    func waitFor(_ receiver: DatagramReceiver, count: Int, seconds: Int = 20) async -> [String] {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while Set(Self.alertIDs(receiver.texts)).count < count && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        return receiver.texts
    }

    @Test func rotationTruncationKillsAndAnAbsentAnalysisdLoseNothing() async throws {
        let home = try Home()
        var receiver = try DatagramReceiver(path: home.socket)
        var process = try home.start()
        var expected: [String] = []
        var kills = 0

        // Written while it runs, plus alerts its filter drops (level 3, another group).
        let first = (1...20).map { "a\($0)" }
        try home.append(ids: first)
        try home.append(home.alert("low", level: 3) + "\n" + home.alert("other", group: "web") + "\n")
        expected += first
        _ = await waitFor(receiver, count: expected.count)

        // Daily rotation: the file is moved away and a new one starts.
        try FileManager.default.createDirectory(
            atPath: home.path + "/logs/alerts/2026/Nov",
            withIntermediateDirectories: true
        )
        try FileManager.default.moveItem(
            atPath: home.alerts,
            toPath: home.path + "/logs/alerts/2026/Nov/ossec-alerts-22.json"
        )
        let second = (1...10).map { "b\($0)" }
        _ = FileManager.default.createFile(atPath: home.alerts, contents: nil)
        try home.append(ids: second)
        expected += second
        _ = await waitFor(receiver, count: expected.count)

        // Truncation in place.
        truncate(home.alerts, 0)
        try await Task.sleep(for: .milliseconds(400))
        let third = (1...10).map { "c\($0)" }
        try home.append(ids: third)
        expected += third
        _ = await waitFor(receiver, count: expected.count)

        // kill -9 at random moments while alerts keep coming, then restart.
        for round in 1...4 {
            let batch = (1...30).map { "k\(round)-\($0)" }
            try home.append(ids: batch)
            expected += batch
            try await Task.sleep(for: .milliseconds(Int64.random(in: 5...120)))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            kills += 1
            process = try home.start()
        }
        _ = await waitFor(receiver, count: expected.count)

        // analysisd goes away (the socket file stays, nobody reads): events go to the spool...
        receiver.close()
        let beforeAbsence = receiver.texts
        let away = (1...15).map { "s\($0)" }
        try home.append(ids: away)
        expected += away
        try await Task.sleep(for: .milliseconds(1500))
        #expect(home.log.contains("spooling events until it is back"))
        // ...a restart in between keeps them...
        process.terminate()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "SIGTERM drains and exits 0")
        process = try home.start()
        // ...and when analysisd is back they arrive first, in order, then the new ones.
        receiver = try DatagramReceiver(path: home.socket)
        let after = (1...5).map { "t\($0)" }
        try home.append(ids: after)
        expected += after
        let arrivedLater = await waitFor(receiver, count: away.count + after.count)
        #expect(Self.alertIDs(arrivedLater) == away + after, "spooled first, in order")
        process.terminate()
        process.waitUntilExit()

        // Everything, once, in order; a duplicate is only possible for a kill between a send and its
        // checkpoint (the at-least-once window: one event per kill).
        let received = Self.alertIDs(beforeAbsence + receiver.texts)
        var seen = Set<String>()
        let firstTimes = received.filter { seen.insert($0).inserted }
        #expect(firstTimes == expected)
        #expect(received.count - firstTimes.count <= kills)
        #expect(!received.contains("low") && !received.contains("other"), "the block's level and group filters apply")
        #expect(home.log.contains("was rotated; reading the new file from its start"))
        #expect(home.log.contains("was truncated"))
    }

    @Test func everyEventArrivesOnceInOrderAcrossKills() async throws {
        let home = try Home()
        let receiver = try DatagramReceiver(path: home.socket)
        var process = try home.start()
        var expected: [String] = []
        var kills = 0
        for round in 1...6 {
            let batch = (1...40).map { "r\(round)-\($0)" }
            try home.append(ids: batch)
            expected += batch
            try await Task.sleep(for: .milliseconds(Int64.random(in: 1...150)))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            kills += 1
            process = try home.start()
        }
        let received = Self.alertIDs(await waitFor(receiver, count: expected.count, seconds: 30))
        process.terminate()
        process.waitUntilExit()
        var seen = Set<String>()
        let firstTimes = received.filter { seen.insert($0).inserted }
        #expect(firstTimes == expected, "every alert's event, in the order written")
        #expect(
            received.count - firstTimes.count <= kills,
            "at most one duplicate per kill: \(received.count - firstTimes.count)"
        )
    }

    @Test func aFullSpoolStopsTheReadingAndLosesNothing() async throws {
        let home = try Home()
        // analysisd never started: no socket at all.
        let process = try home.start(["--spool-mb", "1"])
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        let ids = (1...3_000).map { "f\($0)" }
        try home.append(ids: ids)
        for _ in 0..<100 where !home.log.contains("the spool is full") {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(home.log.contains("the spool is full (1048576 bytes): alerts are not read until analysisd is back"))
        let receiver = try DatagramReceiver(path: home.socket)
        let received = Self.alertIDs(await waitFor(receiver, count: ids.count, seconds: 30))
        #expect(received == ids, "all of them, in order, once analysisd is there")
    }

    @Test func badLinesAreSkippedAndLoggedAndTheTailGoesOn() async throws {
        let home = try Home()
        let receiver = try DatagramReceiver(path: home.socket)
        let process = try home.start()
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        // A line written in two halves is read once it is complete.
        let half = home.alert("split")
        try home.append(String(half.prefix(40)))
        try await Task.sleep(for: .milliseconds(400))
        try home.append(String(half.dropFirst(40)) + "\n")
        // Binary garbage, invalid UTF-8, a 10 MB line, then good alerts.
        var garbage = Data([0x00, 0xFF, 0xFE, 0x7B, 0x0A])
        garbage.append(
            Data("{\"rule\":{\"level\":10,\"groups\":[\"sshd\"]},\"id\":\"bad-\u{FFFD}".utf8) + Data([0xC3, 0x28])
                + Data("\",\"data\":{\"srcip\":\"185.220.101.4\"}}\n".utf8)
        )
        garbage.append(Data(repeating: 0x41, count: 10 << 20) + Data([0x0A]))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: home.alerts))
        handle.seekToEndOfFile()
        handle.write(garbage)
        try handle.close()
        try home.append(ids: ["after1", "after2"])
        let received = Self.alertIDs(await waitFor(receiver, count: 4))
        #expect(received.first == "split")
        #expect(received.suffix(2) == ["after1", "after2"])
        #expect(home.log.contains("skipped a line that is not a JSON alert"))
        #expect(home.log.contains("skipped a line over 65536 bytes"))

        // The file disappears, then comes back.
        try FileManager.default.removeItem(atPath: home.alerts)
        try await Task.sleep(for: .milliseconds(400))
        #expect(home.log.contains("is missing; waiting for it to come back"))
        _ = FileManager.default.createFile(atPath: home.alerts, contents: nil)
        try home.append(ids: ["back"])
        let more = Self.alertIDs(await waitFor(receiver, count: received.count + 1))
        #expect(more.last == "back")
        #expect(process.isRunning)
    }

    @Test func aMetricsPortInUseStopsTheTailWithTheReason() async throws {
        let home = try Home()
        let busy = try LoopbackPort.listening()
        defer { close(busy.descriptor) }
        let process = try home.start(["--metrics-port", String(busy.port)])
        defer {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        // It used to spin at full CPU, ignore SIGTERM and say nothing.
        for _ in 0..<300 where process.isRunning { try await Task.sleep(for: .milliseconds(50)) }
        #expect(!process.isRunning, "the tail stops by itself")
        process.waitUntilExit()
        #expect(process.terminationStatus != 0)
        #expect(
            home.log.contains(
                "cannot serve metrics on 127.0.0.1:\(busy.port): the port is in use; stop what listens there or choose another --metrics-port"
            ),
            "\(home.log)"
        )
    }

    @Test func theMetricsShowTheSharedSourceBudgets() async throws {
        let home = try Home()
        let port = try LoopbackPort.free()
        let process = try home.start(["--metrics-port", String(port)])
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        var text = ""
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        for _ in 0..<200 {
            let request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/metrics")
            if let response = try? await http.execute(request, timeout: .seconds(5)),
                let body = try? await response.body.collect(upTo: 1 << 20)
            {
                text = String(buffer: body)
                break
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        try await http.shutdown()
        #expect(text.contains("verdict_tail_alerts_read_total 0"), "\(text) \(home.log)")
        #expect(text.contains(#"verdict_source_circuit_state{source="local",state="closed"} 1.0"#))
        #expect(text.contains(#"verdict_store_failures_total{store="cache"} 0.0"#))
        #expect(text.contains("# TYPE verdict_store_failures_total counter"))
    }

    /// Alerts custom-verdict kept for later in the tail's data directory are enriched by the tail, in order.
    @Test func theTailDrainsTheRetryQueue() async throws {
        let home = try Home()
        let receiver = try DatagramReceiver(path: home.socket)
        let queue = SQLiteRetryQueue(database: try VerdictDatabase(directory: home.path + "/data"))
        let kept = Date().timeIntervalSince1970 - 60
        for id in ["kept1", "kept2"] {
            _ = try await queue.enqueue(
                DeferredAlert(
                    alert: Array(home.alert(id).utf8),
                    options: nil,
                    home: home.path,
                    pending: nil,
                    reason: "the Verdict server did not answer",
                    deferredAt: kept
                ),
                limits: RetrySettings(),
                at: kept
            )
        }
        let process = try home.start()
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        let late = await waitFor(receiver, count: 2)
        #expect(Self.alertIDs(late) == ["kept1", "kept2"], "\(home.log)")
        #expect(late.allSatisfy { $0.contains(#""deferred_s":"#) })
        for _ in 0..<100 where try await queue.summary().queued > 0 { try await Task.sleep(for: .milliseconds(50)) }
        #expect(try await queue.summary().queued == 0)
    }
}
