import Foundation
import Testing
import VerdictCore
import VerdictTestSupport

/// `verdict replay` over saved alert files: NDJSON and gzip, bad lines, socket output, the closing table.
struct ReplayCommandTests {
    static let alert =
        #"{"rule":{"level":10,"id":"5712","description":"sshd: brute force","groups":["sshd"]},"agent":{"id":"001","name":"web-01","ip":"10.0.2.15"},"id":"ID","full_log":"Failed password for root from 185.220.101.4 port 22","data":{"srcip":"185.220.101.4"},"location":"/var/log/auth.log"}"#

    func folder() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent(
            "replay-\(UUID().uuidString.prefix(8))"
        ).path
        try FileManager.default.createDirectory(atPath: path + "/feeds/blocklists", withIntermediateDirectories: true)
        try "185.220.101.4\n".write(toFile: path + "/feeds/blocklists/soc.txt", atomically: true, encoding: .utf8)
        return path
    }

    func environment(_ folder: String) -> [String: String] {
        [
            "VERDICT_DATA_DIR": folder + "/data", "VERDICT_FEEDS_DIR": folder + "/feeds",
            "VERDICT_INTERNETDB_ENABLED": "false", "VERDICT_CONFIG": "",
        ]
    }

    /// Five alerts, a line that is not JSON, a 70 KB line, a Verdict event, and a last line without a newline.
    func alertsFile(_ folder: String) throws -> String {
        var lines = (1...5).map { Self.alert.replacingOccurrences(of: "\"ID\"", with: "\"1716200000.\($0)\"") }
        lines.insert("not json at all", at: 2)
        lines.insert(#"{"rule":{"id":"1"},"full_log":""# + String(repeating: "x", count: 70_000) + #""}"#, at: 3)
        lines.append(
            #"{"rule":{"id":"100601","groups":["verdict"]},"data":{"integration":"verdict"},"location":"verdict"}"#
        )
        let path = folder + "/alerts.json"
        try (lines.joined(separator: "\n") + "\n" + #"{"rule":{"id":"5","groups":[]},"data":{"srcip":"#).write(
            toFile: path,
            atomically: true,
            encoding: .utf8
        )
        return path
    }

    @Test func plainAndGzipFilesGiveTheSameEventsInOrder() async throws {
        let folder = try folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let plain = try alertsFile(folder)
        let gzip = Process()
        gzip.executableURL = URL(fileURLWithPath: "/bin/gzip")
        gzip.arguments = ["-k", plain]
        try gzip.run()
        gzip.waitUntilExit()
        let run = try await ExtractCommandTests.run(["replay", plain, plain + ".gz"], environment: environment(folder))
        #expect(run.status == 0, "\(run.errors)")
        let events = run.output.split(separator: "\n").map { try? JSONValue(parsing: String($0)) }
        #expect(events.count == 10)
        let alertIDs = events.compactMap { $0?["verdict"]?["source"]?["alert_id"]?.scalarText }
        let once = (1...5).map { "1716200000.\($0)" }
        #expect(alertIDs == once + once, "events follow the alerts' order")
        #expect(events.allSatisfy { $0?["verdict"]?["verdict"] == .string("malicious") })
        for (label, value) in [
            ("files", "2"), ("alerts", "12"), ("lines not alerts / over 64 KiB", "4 / 2"),
            ("Verdict events skipped (loop guard)", "2"), ("events written", "10"), ("  malicious", "10"),
        ] {
            #expect(
                run.errors.split(separator: "\n").contains { $0.hasPrefix(label) && $0.hasSuffix("  " + value) },
                "\(label) \(value): \(run.errors)"
            )
        }
        #expect(run.errors.contains("top malicious indicators (alerts):\n  10  185.220.101.4"))
    }

    @Test func eventsCanGoToAQueueSocket() async throws {
        let folder = try folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let receiver = try DatagramReceiver(path: folder + "/queue")
        defer { receiver.close() }
        let run = try await ExtractCommandTests.run(
            ["replay", "--socket", folder + "/queue", "--min-verdict", "all", try alertsFile(folder)],
            environment: environment(folder)
        )
        #expect(run.status == 0, "\(run.errors)")
        #expect(run.output.isEmpty)
        let received = await receiver.wait(for: 5)
        #expect(received.count == 5)
        #expect(
            received.allSatisfy { $0.hasPrefix("1:[001] (web-01) 10.0.2.15->verdict:{\"integration\":\"verdict\"") }
        )
    }

    @Test func aTerminalGetsAProgressBar() async throws {
        let folder = try folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let file = try alertsFile(folder)
        // `script` gives the command a terminal, as a person running it would have.
        let command = "\(ExtractCommandTests.executable.path) replay \(file) > /dev/null"
        let run = try await ExtractCommandTests.run(
            ["-q", "-c", command, "/dev/null"],
            environment: environment(folder),
            program: "/usr/bin/script"
        )
        #expect(run.status == 0, "\(run.errors)")
        #expect(run.output.contains("[##############################] 100%  6 alerts"), "\(run.output)")
        #expect(run.output.contains("events written"))
    }

    @Test func missingOrBrokenFilesAreOneClearLine() async throws {
        let folder = try folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let missing = try await ExtractCommandTests.run(
            ["replay", folder + "/nope.json"],
            environment: environment(folder)
        )
        #expect(missing.status == 2)
        #expect(missing.errors.contains("cannot open \(folder)/nope.json"))
        var broken = Data([0x1F, 0x8B, 0x08, 0x00])
        broken.append(Data(repeating: 0x41, count: 64))
        try broken.write(to: URL(fileURLWithPath: folder + "/broken.json.gz"))
        let bad = try await ExtractCommandTests.run(
            ["replay", folder + "/broken.json.gz"],
            environment: environment(folder)
        )
        #expect(bad.status == 2)
        #expect(bad.errors.contains("is not valid gzip"))
    }
}
