import Foundation
import Testing
import VerdictCore
import VerdictEngine
import VerdictSQLite
import VerdictSources
import VerdictStore
import VerdictWazuh

#if canImport(Glibc)
import Glibc
#endif

/// `verdict wazuh lists`: the CDB lists hold exactly what is known bad now, in the format analysisd reads.
struct WazuhListsTests {
    static func folder() -> String {
        let path = NSTemporaryDirectory() + "verdict-lists-\(UUID())"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func entry(_ value: String) -> FeedEntry { FeedEntry(parsing: value)! }

    @Test func theListsHoldExactlyWhatIsKnownBadNow() async throws {
        let directory = Self.folder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let database = try VerdictDatabase(directory: directory)
        let feeds = SQLiteFeedStore(database: database)
        let cache = SQLiteLookupCache(database: database)
        func state(_ name: String, _ verdict: Verdict) -> FeedState {
            FeedState(
                name: name,
                origin: .download,
                location: "http://127.0.0.1/\(name)",
                format: "plain",
                verdict: verdict
            )
        }
        try await feeds.apply(
            FeedIndexChange(replaced: [
                (
                    state("abuse", .malicious),
                    [
                        "45.155.205.50", "45.155.205.51", "45.156.128.0/22", "2a0f:ca80::/29", "8.8.8.8", "10.0.0.5",
                        "c2-panel.net", "http://45.155.205.50/bins/x86",
                        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                    ].map(Self.entry)
                ),
                (state("second", .malicious), ["45.155.205.51", "second-only.net"].map(Self.entry)),
                (state("maybe", .suspicious), ["45.155.205.52"].map(Self.entry)),
            ])
        )
        let now = Date().timeIntervalSince1970
        // Cached answers: one value two sources call malicious (fresh), one whose answers have expired.
        for (value, expiresAt) in [("45.155.205.60", now + 3_600), ("45.155.205.61", now - 10)] {
            for source in ["abuseipdb", "threatfox"] {
                await cache.store(
                    CachedAnswer(
                        result: .found(source, verdict: .malicious, score: 100),
                        storedAt: now - 60,
                        expiresAt: expiresAt
                    ),
                    for: CacheKey(source: source, indicator: Indicator(type: .ipv4, value: value), fingerprint: "k")
                )
            }
        }
        let engine = EnrichmentEngine(governors: [], cache: cache)
        let overrides = [
            AnalystOverride(
                indicator: Indicator(type: .ipv4, value: "45.155.205.70"),
                verdict: .malicious,
                reason: "confirmed",
                author: "cli:ana",
                createdAt: now,
                expiresAt: nil
            ),
            AnalystOverride(
                indicator: Indicator(type: .ipv4, value: "45.155.205.71"),
                verdict: .malicious,
                reason: "expired",
                author: "cli:ana",
                createdAt: now - 100,
                expiresAt: now - 1
            ),
            AnalystOverride(
                indicator: Indicator(type: .ipv4, value: "45.155.205.51"),
                verdict: .harmless,
                reason: "our scanner",
                author: "cli:ana",
                createdAt: now,
                expiresAt: nil
            ),
        ]
        engine.overrides.replace(with: overrides)

        var lists = try await WazuhLists.collect(
            feeds: feeds,
            overrides: overrides,
            cache: cache,
            engine: engine,
            now: now
        )
        #expect(
            Set(lists.lists[.ip]?.keys ?? [:].keys)
                == [
                    "45.155.205.50", "45.156.128.", "45.156.129.", "45.156.130.", "45.156.131.", "45.155.205.60",
                    "45.155.205.70",
                ],
            "feeds (a /22 as four /24 prefixes), a fresh cached verdict, a malicious override; not the harmless override, the expired ones, the suspicious feed or suppressed values"
        )
        #expect(lists.networksLeftOut == 1, "the IPv6 range cannot be a CDB key")
        #expect(lists.lists[.ip]?["45.155.205.70"] == "analyst")
        #expect(lists.lists[.ip]?["45.155.205.60"] == "verdict:threatfox+abuseipdb")
        #expect(Set(lists.lists[.domains]?.keys ?? [:].keys) == ["c2-panel.net", "second-only.net"])

        let home = Self.folder()
        defer { try? FileManager.default.removeItem(atPath: home) }
        // Wazuh's etc/lists is wazuh:wazuh 770; a new folder under it, and the lists in it, are the same owner's
        // (analysisd writes NAME.cdb beside each list). As root the owner is set too: nobody stands in for wazuh.
        try FileManager.default.createDirectory(atPath: home + "/etc/lists", withIntermediateDirectories: true)
        #expect(chmod(home + "/etc/lists", 0o770) == 0)
        let asRoot = getuid() == 0
        if asRoot { #expect(chown(home + "/etc/lists", 65_534, 65_534) == 0) }
        let written = try lists.write(into: home + "/etc/lists/verdict")
        let folder = try FileManager.default.attributesOfItem(atPath: home + "/etc/lists/verdict")
        #expect((folder[.posixPermissions] as? Int) == 0o770)
        let list = try FileManager.default.attributesOfItem(atPath: home + "/etc/lists/verdict/malicious-ip")
        #expect((list[.posixPermissions] as? Int) == 0o660)
        if asRoot {
            #expect((folder[.ownerAccountID] as? Int) == 65_534)
            #expect((list[.ownerAccountID] as? Int) == 65_534 && (list[.groupOwnerAccountID] as? Int) == 65_534)
        }
        #expect(
            written.map(\.path.lastPathComponent) == [
                "malicious-ip", "malicious-domains", "malicious-urls", "malware-hashes",
            ]
        )
        let urls = try String(contentsOfFile: home + "/etc/lists/verdict/malicious-urls", encoding: .utf8)
        #expect(urls == "\"http://45.155.205.50/bins/x86\":abuse\n", "a key with ':' is quoted, as analysisd reads it")
        let ip = try String(contentsOfFile: home + "/etc/lists/verdict/malicious-ip", encoding: .utf8)
        #expect(ip.split(separator: "\n").contains("45.156.128.:abuse"))
        for line in ip.split(separator: "\n") {
            let parsed = try #require(WazuhLists.parseLine(line))
            #expect(lists.lists[.ip]?[parsed.0] == parsed.1)
        }

        // The second feed is removed: its keys go with it.
        try await feeds.apply(FeedIndexChange(removed: ["second"]))
        lists = try await WazuhLists.collect(feeds: feeds, overrides: overrides, cache: cache, engine: engine, now: now)
        #expect(Set(lists.lists[.domains]?.keys ?? [:].keys) == ["c2-panel.net"])
        // Past the cached answers' TTL the cached verdict is gone too.
        lists = try await WazuhLists.collect(
            feeds: feeds,
            overrides: overrides,
            cache: cache,
            engine: engine,
            now: now + 7_200
        )
        #expect(lists.lists[.ip]?["45.155.205.60"] == nil)
        #expect(lists.lists[.ip]?["45.155.205.70"] == "analyst")
    }

    /// analysisd's control socket as Wazuh 4.14 serves it: a stream socket, 4-byte little-endian lengths.
    @Test func theReloadIsAskedWithWazuhsFramingAndItsAnswerReported() async throws {
        let home = Self.folder()
        defer { try? FileManager.default.removeItem(atPath: home) }
        try FileManager.default.createDirectory(atPath: home + "/queue/sockets", withIntermediateDirectories: true)
        let path = home + "/queue/sockets/analysis"
        let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #expect(listener >= 0)
        defer { close(listener) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            buffer.copyBytes(from: path.utf8)
            buffer[path.utf8.count] = 0
        }
        let bound = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        #expect(bound == 0)
        #expect(listen(listener, 1) == 0)
        // Warnings as a stock 4.14.7 manager gives them: its AWS rules name a list its ossec.conf does not declare.
        let answer = #"""
            {"error":0,"message":"ok","data":["(7616): List 'etc/lists/amazon/aws-eventnames' could not be loaded. Rule '80202' will be ignored.","(7617): Signature ID '80202' was not found and will be ignored in the 'if_sid' option of rule '80203'.","(7616): List 'etc/lists/verdict/malicious-urls' could not be loaded. Rule '100633' will be ignored."]}
            """#
        let server = Task.detached { () -> String in
            let connection = accept(listener, nil, nil)
            defer { close(connection) }
            var header = [UInt8](repeating: 0, count: 4)
            guard recv(connection, &header, 4, Int32(MSG_WAITALL)) == 4 else { return "no header" }
            let length = Int(header[0]) | Int(header[1]) << 8 | Int(header[2]) << 16 | Int(header[3]) << 24
            var body = [UInt8](repeating: 0, count: length)
            guard recv(connection, &body, length, Int32(MSG_WAITALL)) == length else { return "short body" }
            let reply = Array(answer.utf8)
            let size = UInt32(reply.count)
            let frame =
                [UInt8(size & 0xFF), UInt8(size >> 8 & 0xFF), UInt8(size >> 16 & 0xFF), UInt8(size >> 24)] + reply
            _ = frame.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, 0) }
            return String(decoding: body, as: UTF8.self)
        }
        let reply = try AnalysisdReload.reload(home: home, timeout: 20)
        #expect(await server.value == #"{"command":"reload-ruleset"}"#)
        #expect(reply.error == 0 && reply.message == "ok")
        #expect(reply.warnings.count == 3)
        #expect(
            reply.verdictWarnings == [
                "(7616): List 'etc/lists/verdict/malicious-urls' could not be loaded. Rule '100633' will be ignored."
            ],
            "only the warnings about Verdict's rules and lists are shown"
        )
    }

    @Test func noAnalysisdSaysWhatToDo() throws {
        let home = Self.folder()
        defer { try? FileManager.default.removeItem(atPath: home) }
        #expect {
            try AnalysisdReload.reload(home: home, timeout: 2)
        } throws: { error in
            String(describing: error).contains("cannot reach analysisd at \(home)/queue/sockets/analysis")
                && String(describing: error).contains("restart the manager")
        }
    }
}

extension String {
    fileprivate var lastPathComponent: String { (self as NSString).lastPathComponent }
}
