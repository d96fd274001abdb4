import Foundation
import Synchronization
import Testing
import VerdictCore
import VerdictTestSupport

/// `verdict feeds`, `verdict override` and `verdict wazuh lists` as an analyst runs them: the built executable
/// against a loopback feed publisher, one data directory.
struct LocalIntelligenceCommandTests {
    final class Workspace {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("verdict-intel-\(UUID())").path
        var environment: [String: String] {
            [
                "VERDICT_DATA_DIR": path + "/data", "VERDICT_INTERNETDB_ENABLED": "false",
                "VERDICT_CONFIG": path + "/verdict.yaml",
            ]
        }

        init(feedURL: String, format: String = "plain") throws {
            try FileManager.default.createDirectory(atPath: path + "/wazuh/etc", withIntermediateDirectories: true)
            try """
            feeds:
              soc-feed:
                url: \(feedURL)
                format: \(format)
                refresh: 1h
                weight: 0.8
            """.write(toFile: path + "/verdict.yaml", atomically: true, encoding: .utf8)
        }

        func run(_ arguments: [String]) async throws -> ExtractCommandTests.Run {
            try await ExtractCommandTests.run(arguments, environment: environment)
        }

        func file(_ relative: String) throws -> String {
            try String(contentsOfFile: path + "/" + relative, encoding: .utf8)
        }

        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    static func lookup(_ workspace: Workspace, _ value: String) async throws -> JSONValue {
        let run = try await workspace.run(["lookup", value, "--json"])
        #expect(run.status == 0, "\(run.errors)")
        guard case .array(let results) = try JSONValue(parsing: run.output), let first = results.first else {
            Issue.record("no result: \(run.output)")
            return .null
        }
        return first
    }

    @Test func syncLookUpOverrideAndWriteTheWazuhLists() async throws {
        let failing = Mutex(false)
        let publisher = try await MockProviderServer { _ in
            failing.withLock { $0 }
                ? .raw(500, Array("upstream error".utf8))
                : .raw(200, Array("# SOC feed\n45.155.205.90\n45.155.205.91\nc2-relay.example-bad.net\n".utf8))
        }
        defer { Task { try? await publisher.shutdown() } }
        let workspace = try Workspace(feedURL: publisher.baseURL + "/feed.txt")

        let sync = try await workspace.run(["feeds", "sync"])
        #expect(sync.status == 0, "\(sync.output) \(sync.errors)")
        #expect(sync.output.contains("soc-feed: 3 entries indexed"), "\(sync.output)")

        let listed = try await workspace.run(["feeds", "list", "--json"])
        let feeds = try JSONValue(parsing: listed.output)
        guard case .array(let rows) = feeds, let row = rows.first else {
            Issue.record("no feeds listed: \(listed.output)")
            return
        }
        #expect(row["name"] == .string("soc-feed") && row["entries"] == .number("3") && row["last_error"] == .null)

        let hit = try await Self.lookup(workspace, "45.155.205.90")
        #expect(hit["verdict"] == .string("malicious") && hit["score"] == .number("80"), "weight 0.8: \(hit)")
        #expect(hit["summary"]?.scalarText?.contains("local soc-feed") == true, "\(hit)")
        #expect(try await Self.lookup(workspace, "www.c2-relay.example-bad.net")["verdict"] == .string("malicious"))

        // The analyst knows better: harmless for an hour, and a domain the feed does not list is malicious.
        let harmless = try await workspace.run([
            "override", "add", "45.155.205.90", "--verdict", "harmless", "--reason", "our scanner", "--expires", "1h",
        ])
        #expect(harmless.status == 0, "\(harmless.errors)")
        let malicious = try await workspace.run([
            "override", "add", "hxxp://confirmed-c2[.]net/gate.php", "--verdict", "malicious", "--reason", "IR-2291",
        ])
        #expect(malicious.status == 0, "\(malicious.errors)")
        let overridden = try await Self.lookup(workspace, "45.155.205.90")
        #expect(
            overridden["verdict"] == .string("harmless") && overridden["summary"] == .string("analyst: our scanner")
        )
        let list = try await workspace.run(["override", "list", "--json"])
        #expect(
            list.output.contains(#""value":"45.155.205.90""#)
                && list.output.contains(#""value":"http://confirmed-c2.net/gate.php""#)
        )

        let lists = try await workspace.run(["wazuh", "lists", "--wazuh-home", workspace.path + "/wazuh"])
        #expect(lists.status == 0, "\(lists.errors)")
        let ip = try workspace.file("wazuh/etc/lists/verdict/malicious-ip")
        #expect(ip == "45.155.205.91:soc-feed\n", "the harmless override keeps .90 out")
        #expect(
            try workspace.file("wazuh/etc/lists/verdict/malicious-domains") == "c2-relay.example-bad.net:soc-feed\n"
        )
        #expect(
            try workspace.file("wazuh/etc/lists/verdict/malicious-urls")
                == "\"http://confirmed-c2.net/gate.php\":analyst\n"
        )
        #expect(lists.output.contains("analysisd loads them at its next start"))

        let removed = try await workspace.run(["override", "remove", "45.155.205.90"])
        #expect(removed.status == 0)
        let again = try await workspace.run(["override", "remove", "45.155.205.90"])
        #expect(again.status == 2 && again.errors.contains("no override on ipv4 45.155.205.90"))
        #expect(try await Self.lookup(workspace, "45.155.205.90")["verdict"] == .string("malicious"))

        // The publisher fails: the sync says so, exits 1, and the last good copy keeps answering.
        failing.withLock { $0 = true }
        let failed = try await workspace.run(["feeds", "sync"])
        #expect(failed.status == 1)
        #expect(failed.output.contains("soc-feed: FAILED, kept the last good copy (3 entries)"), "\(failed.output)")
        #expect(failed.output.contains("HTTP 500"))
        #expect(try await Self.lookup(workspace, "45.155.205.91")["verdict"] == .string("malicious"))
        let table = try await workspace.run(["feeds", "list"])
        #expect(table.output.contains("HTTP 500"), "feeds list shows the last error: \(table.output)")
    }

    @Test func badFeedSettingsAndValuesSayWhatToFix() async throws {
        let workspace = try Workspace(feedURL: "http://127.0.0.1:9/feed.txt", format: "csv-ish")
        let run = try await workspace.run(["feeds", "sync"])
        #expect(run.status == 2)
        #expect(run.errors.contains("feeds.soc-feed.format must be one of: urlhaus-csv"), "\(run.errors)")
        let fixed = try Workspace(feedURL: "http://127.0.0.1:9/feed.txt")
        let bad = try await fixed.run(["override", "add", "not a value", "--verdict", "harmless"])
        #expect(bad.status == 2 && bad.errors.contains("give an address, domain, URL, email or hash"), "\(bad.errors)")
        let wrongVerdict = try await fixed.run(["override", "add", "45.155.205.92", "--verdict", "suspicious"])
        #expect(wrongVerdict.status == 2 && wrongVerdict.errors.contains("--verdict must be malicious or harmless"))
        let wrongExpiry = try await fixed.run([
            "override", "add", "45.155.205.92", "--verdict", "harmless", "--expires", "soon",
        ])
        #expect(wrongExpiry.status == 2 && wrongExpiry.errors.contains("is not a duration such as 30d"))
    }
}
