import CompressNIO
import Foundation
import NIOCore
import Synchronization
import Testing
import VerdictCore
import VerdictEngine
import VerdictPostgres
import VerdictSQLite
import VerdictSources
import VerdictStore
import VerdictTestSupport

/// The compiled feed index and the overrides, on every database: the same tests for each.
struct FeedIndexTests {
    static let kinds = StoreKind.kinds([.sqlite, .postgres])

    static func stores(_ database: StoreKind.Database) -> (any FeedStore, any OverrideStore) {
        if let postgres = database.postgres {
            return (PostgresFeedStore(database: postgres), PostgresOverrideStore(database: postgres))
        }
        let sqlite = database.sqlite!
        return (SQLiteFeedStore(database: sqlite), SQLiteOverrideStore(database: sqlite))
    }

    @Test(arguments: kinds) func theDirectorysListsAnswerFromTheIndex(_ kind: StoreKind) async throws {
        let database = try await kind.database()
        defer { database.cleanUp() }
        let (store, _) = Self.stores(database)
        let folder = try TemporaryDirectory()
        try folder.write("blocklists/c2.txt", "# our C2 list\n185.220.101.4\nevil-updates.com\n\n")
        try folder.write("blocklists/ranges.cidr", "45.95.147.0/24\n2a0b:4140::/32\n")
        try folder.write(
            "blocklists/iocs.csv",
            "value,category\n\"http://evil-updates.com/a.sh\",payload_delivery\n44D88612FEA8A8F36DE82E1278ABB02F,test_file\n"
        )
        try folder.write("allowlists/partners.list", "partner-cdn.net\n")
        let source = LocalFeedsSource(store: store, directory: folder.url)
        try await source.prepare()
        #expect(!source.isExternal)

        func look(_ value: String) async throws -> SourceResult {
            try await source.lookUp(IndicatorParser.parse(value))
        }
        let address = try await look("185.220.101.4")
        #expect(address.verdict == .malicious && address.score == 100 && address.evidence == "c2")
        #expect(try await look("cdn.evil-updates.com").evidence == "c2", "a listed domain covers its subdomains")
        #expect(try await look("45.95.147.236").evidence == "ranges", "a listed network covers its addresses")
        #expect(try await look("2a0b:4140:2b09::5").evidence == "ranges")
        #expect(try await look("45.95.148.1").status == .notFound)
        #expect(try await look("http://evil-updates.com/a.sh").categories.contains("payload_delivery"))
        #expect(try await look("http://185.220.101.4:8080/x").evidence == "c2", "a URL matches its host's entry")
        #expect(try await look("44d88612fea8a8f36de82e1278abb02f").categories == ["test_file"])
        #expect(try await look("img.partner-cdn.net").verdict == .harmless)
        #expect(try await look("evil-updates.com.example.org").status == .notFound, "a suffix is not a parent")

        // Another process on the same store finds the directory unchanged and reads nothing again.
        let states = try await store.states()
        #expect(Set(states.map(\.name)) == ["c2", "ranges", "iocs", "partners"])
        #expect(states.first { $0.name == "c2" }?.entryCount == 2)
        // A list taken out of the directory leaves the index at the next refresh.
        try FileManager.default.removeItem(at: folder.url.appendingPathComponent("blocklists/c2.txt"))
        try await source.refreshDirectory()
        #expect(try await look("185.220.101.4").status == .notFound)
        #expect(try await store.states().contains { $0.name == "c2" } == false)
    }

    @Test(arguments: kinds) func aBadLineNamesTheFileAndLineAndKeepsTheLastGoodCopy(_ kind: StoreKind) async throws {
        let database = try await kind.database()
        defer { database.cleanUp() }
        let (store, _) = Self.stores(database)
        let folder = try TemporaryDirectory()
        try folder.write("blocklists/c2.txt", "185.220.101.4\n")
        try await LocalFeedsSource(store: store, directory: folder.url).prepare()
        try folder.write("blocklists/c2.txt", "185.220.101.4\nnot an indicator at all\n")
        let source = LocalFeedsSource(store: store, directory: folder.url)
        await #expect {
            try await source.prepare()
        } throws: { error in
            String(describing: error).hasSuffix(
                "c2.txt line 2: \"not an indicator at all\" is not an address, CIDR block, domain, URL, email or hash; fix or remove the line"
            )
        }
        let lookup = try await source.lookUp(Indicator(type: .ipv4, value: "185.220.101.4"))
        #expect(lookup.status == .error && lookup.error?.contains("c2.txt line 2") == true)
        let kept = try await store.entries(matching: ["185.220.101.4"])
        #expect(kept.map(\.feed) == ["c2"], "the last good copy stays in the index")
    }

    /// Real feeds list a value twice (MalwareBazaar, concatenated lists): one entry, the last one's words.
    @Test(arguments: kinds) func aValueListedTwiceIsOneEntry(_ kind: StoreKind) async throws {
        let database = try await kind.database()
        defer { database.cleanUp() }
        let (store, _) = Self.stores(database)
        let state = FeedState(
            name: "dupes",
            origin: .download,
            location: "http://127.0.0.1/x",
            format: "plain",
            verdict: .malicious
        )
        let entries = [
            FeedEntry(value: "45.155.205.95", kind: .ipv4, tags: ["first"]),
            FeedEntry(value: "45.155.205.96", kind: .ipv4),
            FeedEntry(value: "45.155.205.95", kind: .ipv4, tags: ["second"]),
        ]
        try await store.apply(FeedIndexChange(replaced: [(state, entries)]))
        #expect(try await store.states().first?.entryCount == 2)
        #expect(try await store.entries(matching: ["45.155.205.95"]).map(\.entry.tags) == [["second"]])
    }

    /// An address is asked under the prefix lengths the index's networks have, not under all 33 (or 129).
    @Test(arguments: kinds) func addressesAreAskedUnderTheIndexsPrefixLengthsOnly(_ kind: StoreKind) async throws {
        let database = try await kind.database()
        defer { database.cleanUp() }
        let (store, _) = Self.stores(database)
        let source = LocalFeedsSource(store: store, directory: nil)
        let inRange = Indicator(type: .ipv4, value: "45.95.147.236")
        #expect(try await source.lookUp(inRange).status == .notFound, "an empty index answers without a read")

        let state = FeedState(
            name: "ranges",
            origin: .download,
            location: "http://127.0.0.1/drop.txt",
            format: "plain",
            verdict: .malicious
        )
        let entries = [
            FeedEntry(value: "45.95.147.0/24", kind: .network),
            FeedEntry(value: "10.0.0.0/8", kind: .network),
            FeedEntry(value: "2a0b:4140::/32", kind: .network),
            FeedEntry(value: "185.220.101.4", kind: .ipv4),
        ]
        try await store.apply(FeedIndexChange(replaced: [(state, entries)]))
        let prefixes = try #require(try await store.states().first?.networkPrefixes)
        #expect(prefixes == NetworkPrefixes(ipv4: [8, 24], ipv6: [32]))
        #expect(
            FeedKeys.candidates(for: inRange, prefixes: prefixes) == ["45.95.147.236", "45.0.0.0/8", "45.95.147.0/24"]
        )
        source.forgetRecentAnswers()
        #expect(try await source.lookUp(inRange).evidence == "ranges")
        #expect(try await source.lookUp(Indicator(type: .ipv4, value: "10.20.30.40")).evidence == "ranges")
        #expect(try await source.lookUp(Indicator(type: .ipv6, value: "2a0b:4140:2b09::5")).evidence == "ranges")
        #expect(try await source.lookUp(Indicator(type: .ipv4, value: "45.95.148.1")).status == .notFound)

        // A feed indexed before the lengths were kept has none on record: every length is asked.
        var unknown = try #require(try await store.states().first)
        unknown.networkPrefixes = nil
        try await store.record(unknown)
        #expect(try await store.states().first?.networkPrefixes == nil)
        #expect(FeedKeys.candidates(for: inRange, prefixes: nil).count == 33)
        let fresh = LocalFeedsSource(store: store, directory: nil)
        #expect(try await fresh.lookUp(inRange).evidence == "ranges")
    }

    @Test(arguments: kinds) func overridesAreKeptReplacedRemovedAndExpire(_ kind: StoreKind) async throws {
        let database = try await kind.database()
        defer { database.cleanUp() }
        let (_, overrides) = Self.stores(database)
        let address = Indicator(type: .ipv4, value: "45.155.205.10")
        let domain = Indicator(type: .domain, value: "corp.example.com")
        try await overrides.put(
            AnalystOverride(
                indicator: address,
                verdict: .malicious,
                reason: "confirmed C2",
                author: "cli:ana",
                createdAt: 100,
                expiresAt: 200
            )
        )
        try await overrides.put(
            AnalystOverride(
                indicator: domain,
                verdict: .harmless,
                reason: nil,
                author: "admin",
                createdAt: 110,
                expiresAt: nil
            )
        )
        #expect(try await overrides.active(at: 150).map(\.indicator) == [address, domain])
        #expect(try await overrides.active(at: 250).map(\.indicator) == [domain], "expired on time")
        try await overrides.put(
            AnalystOverride(
                indicator: address,
                verdict: .harmless,
                reason: "our scanner",
                author: "cli:bo",
                createdAt: 120,
                expiresAt: nil
            )
        )
        let replaced = try await overrides.active(at: 300).first { $0.indicator == address }
        #expect(replaced?.verdict == .harmless && replaced?.reason == "our scanner" && replaced?.author == "cli:bo")
        #expect(try await overrides.remove(address))
        #expect(try await overrides.remove(address) == false)
        #expect(try await overrides.active(at: 300).map(\.indicator) == [domain])
    }

    /// An override wins over every source, is named in the summary, asks no source and expires on time.
    @Test func anOverrideWinsOverTheSourcesAndExpires() async throws {
        let clock = TestClock(now: 1_000)
        let engine = EnrichmentEngine(governors: [], now: { clock.now })
        let address = Indicator(type: .ipv4, value: "45.155.205.11")
        engine.overrides.set(
            AnalystOverride(
                indicator: address,
                verdict: .malicious,
                reason: "confirmed C2",
                author: "cli:ana",
                createdAt: 900,
                expiresAt: 1_100
            )
        )
        engine.overrides.set(
            AnalystOverride(
                indicator: Indicator(type: .domain, value: "corp.example.com"),
                verdict: .harmless,
                reason: nil,
                author: "admin",
                createdAt: 900,
                expiresAt: nil
            )
        )
        let report = await engine.lookUp(address)
        #expect(report.verdict == .malicious && report.score == 100 && report.summary == "analyst: confirmed C2")
        #expect(!report.answeredByExternalSource, "an override costs nothing")
        let host = await engine.lookUp(Indicator(type: .domain, value: "vpn.corp.example.com"))
        #expect(host.verdict == .harmless && host.summary == "analyst: harmless, set by admin")
        clock.now = 1_200
        #expect(await engine.lookUp(address).verdict == .unknown, "expired: the sources decide again")
    }

    final class TestClock: Sendable {
        private let time: Mutex<Double>
        init(now: Double) { time = Mutex(now) }
        var now: Double {
            get { time.withLock { $0 } }
            set { time.withLock { $0 = newValue } }
        }
    }
}

/// `verdict feeds sync` against a loopback publisher serving each format as published.
struct FeedSyncTests {
    static let kinds = StoreKind.kinds([.sqlite, .postgres])

    static let urlhaus = """
        ################################################################
        # abuse.ch URLhaus Database Dump (CSV - online URLs only)      #
        # Last updated: 2026-11-30 10:00:00 (UTC)                      #
        ################################################################
        #
        # id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter
        "3301","2026-11-30 09:58:01","http://45.155.205.20/bins/x86","online","2026-11-30 09:58:01","malware_download","elf,mirai","https://urlhaus.abuse.ch/url/3301/","anonymous"
        "3300","2026-11-30 09:51:44","https://dropper-cdn.com/load.ps1","online","","malware_download","None","https://urlhaus.abuse.ch/url/3300/","anonymous"
        "3299","2026-11-30 09:40:10","not a url at all","online","","malware_download","None","https://urlhaus.abuse.ch/url/3299/","anonymous"

        """.replacingOccurrences(of: "\n", with: "\r\n")

    static let threatfoxCSV = """
        ################################################################
        # ThreatFox IOCs: CSV export                                   #
        ################################################################
        #
        # "first_seen_utc","ioc_id","ioc_value","ioc_type","threat_type","fk_malware","malware_alias","malware_printable","last_seen_utc","confidence_level","is_compromised","reference","tags","anonymous","reporter"
        "2026-11-30 08:00:00", "1650001", "45.155.205.21:443", "ip:port", "botnet_cc", "win.cobalt_strike", "None", "Cobalt Strike", "", "100", "0", "None", "c2,beacon", "0", "abuse_ch"
        "2026-11-30 08:05:00", "1650002", "c2-panel.net", "domain", "botnet_cc", "win.qakbot", "None", "QakBot", "", "75", "0", "None", "None", "0", "abuse_ch"
        # Number of entries: 2
        """

    static let threatfoxJSON = """
        {
            "1650003": [
                {
                    "ioc_value": "45.155.205.22:8080",
                    "ioc_type": "ip:port",
                    "threat_type": "botnet_cc",
                    "malware": "win.asyncrat",
                    "malware_alias": null,
                    "malware_printable": "AsyncRAT",
                    "first_seen_utc": "2026-11-30 07:00:00",
                    "last_seen_utc": null,
                    "confidence_level": 100,
                    "is_compromised": false,
                    "reference": null,
                    "tags": "asyncrat,rat",
                    "anonymous": "0",
                    "reporter": "abuse_ch"
                }
            ]
        }
        """

    static let feodoCSV = """
        ################################################################
        # abuse.ch Feodo Tracker Botnet C2 IP Blocklist (CSV)          #
        ################################################################
        #
        "first_seen_utc","dst_ip","dst_port","c2_status","last_online","malware"
        "2026-11-20 10:00:00","45.155.205.23","443","online","2026-11-30","Emotet"
        # END 1 entries
        """

    static let feodoJSON = """
        [
            {
                "ip_address": "45.155.205.24",
                "port": 8080,
                "status": "offline",
                "hostname": null,
                "as_number": 64500,
                "as_name": "EXAMPLE",
                "country": "NL",
                "first_seen": "2026-11-01 10:00:00",
                "last_online": "2026-11-29",
                "malware": "QakBot"
            }
        ]
        """

    static let bazaarCSV = """
        ################################################################
        # MalwareBazaar full data dump (CSV)                           #
        ################################################################
        #
        # "first_seen_utc","sha256_hash","md5_hash","sha1_hash","reporter","file_name","file_type_guess","mime_type","signature","clamav","vtpercent","imphash","ssdeep","tlsh"
        "2026-11-30 06:00:00", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "098f6bcd4621d373cade4e832627b4f6", "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3", "abuse_ch", "invoice.exe", "exe", "application/x-dosexec", "AgentTesla", "n/a", "n/a", "n/a", "n/a", "n/a"
        """

    static let spamhausDrop = """
        ; Spamhaus DROP List 2026/11/30 - (c) 2026 The Spamhaus Project SLU
        ; https://www.spamhaus.org/drop/drop.txt
        ; Last-Modified: Mon, 30 Nov 2026 09:00:00 GMT
        ; Expires: Mon, 30 Nov 2026 10:00:00 GMT
        45.156.128.0/22 ; SBL600001
        2a0f:ca80::/29 ; SBL600002
        ; EOF

        """

    static let spamhausJSON = """
        {"cidr":"45.157.0.0/24","sblid":"SBL600003","rir":"ripencc"}
        {"type":"metadata","timestamp":1796000000,"size":61,"records":1,"copyright":"(c) 2026 The Spamhaus Project SLU","terms":"https://www.spamhaus.org/drop/terms/"}

        """

    static let plain = "# blocklist\n45.155.205.25\n2001:db8:0:0:0:0:0:77\nhttp://phish.example-login.com/verify?id=7\n"

    static let mispManifest =
        #"{"5f1e2d3c-0000-4000-8000-000000000001":{"info":"TweetFeed","date":"2026-11-30","timestamp":"1796000000","threat_level_id":"4","analysis":"2","distribution":"3","Orgc":{"name":"TweetFeed","uuid":"x"},"Tag":[]}}"#

    static let mispEvent =
        ##"{"Event":{"uuid":"5f1e2d3c-0000-4000-8000-000000000001","info":"TweetFeed 2026-11-30","Tag":[{"name":"tlp:white","colour":"#ffffff"}],"Attribute":[{"uuid":"a1","type":"domain","category":"Network activity","to_ids":true,"value":"misp-listed.net","timestamp":"1796000000","Tag":[{"name":"phishing"}]},{"uuid":"a2","type":"ip-dst|port","category":"Network activity","to_ids":true,"value":"45.155.205.26|443","timestamp":"1796000000"},{"uuid":"a3","type":"comment","category":"Other","to_ids":false,"value":"just a note","timestamp":"1796000000"},{"uuid":"a4","type":"url","category":"Network activity","to_ids":false,"value":"http://not-for-detection.net/","timestamp":"1796000000"}]}}"##

    static func gzip(_ text: String) throws -> [UInt8] {
        var buffer = ByteBuffer(string: text)
        let compressed = try buffer.compress(with: .gzip())
        return Array(compressed.readableBytesView)
    }

    static func feed(_ name: String, _ server: MockProviderServer, _ format: FeedFormat, path: String? = nil)
        -> FeedSettings
    {
        FeedSettings(name: name, url: server.baseURL + "/" + (path ?? name), format: format, maxBytes: 1 << 20)
    }

    @Test(arguments: kinds) func everyFormatIsIndexedAsPublished(_ kind: StoreKind) async throws {
        let database = try await kind.database()
        defer { database.cleanUp() }
        let (store, _) = FeedIndexTests.stores(database)
        let gzippedDrop = try Self.gzip(Self.spamhausDrop)
        let server = try await MockProviderServer { request in
            switch request.uri {
            case "/urlhaus": .raw(200, Array(Self.urlhaus.utf8))
            case "/threatfox-csv": .raw(200, Array(Self.threatfoxCSV.utf8))
            case "/threatfox-json": .raw(200, Array(Self.threatfoxJSON.utf8))
            case "/feodo-csv": .raw(200, Array(Self.feodoCSV.utf8))
            case "/feodo-json": .raw(200, Array(Self.feodoJSON.utf8))
            case "/bazaar": .raw(200, Array(Self.bazaarCSV.utf8))
            case "/drop.txt.gz": .raw(200, gzippedDrop)
            case "/drop_v4.json": .raw(200, Array(Self.spamhausJSON.utf8))
            case "/plain": .raw(200, Array(Self.plain.utf8))
            case "/misp/manifest.json": .raw(200, Array(Self.mispManifest.utf8))
            case "/misp/5f1e2d3c-0000-4000-8000-000000000001.json": .raw(200, Array(Self.mispEvent.utf8))
            default: .raw(404, Array("no such file".utf8))
            }
        }
        defer { Task { try? await server.shutdown() } }
        let feeds = [
            Self.feed("urlhaus", server, .urlhausCSV), Self.feed("threatfox-csv", server, .threatfoxCSV),
            Self.feed("threatfox-json", server, .threatfoxJSON), Self.feed("feodo-csv", server, .feodoCSV),
            Self.feed("feodo-json", server, .feodoJSON), Self.feed("bazaar", server, .malwarebazaarCSV),
            Self.feed("drop", server, .spamhausDrop, path: "drop.txt.gz"),
            Self.feed("drop-json", server, .spamhausDropJSON, path: "drop_v4.json"), Self.feed("plain", server, .plain),
            Self.feed("misp", server, .mispFeed, path: "misp"),
        ]
        let syncer = FeedSyncer(store: store)
        let reports = try await syncer.sync(feeds)
        await syncer.shutdown()
        let counts = Dictionary(uniqueKeysWithValues: reports.map { ($0.feed, $0.entries) })
        #expect(
            counts == [
                "urlhaus": 2, "threatfox-csv": 2, "threatfox-json": 1, "feodo-csv": 1, "feodo-json": 1, "bazaar": 3,
                "drop": 2, "drop-json": 1, "plain": 3, "misp": 2,
            ],
            "\(reports.map(\.line))"
        )
        #expect(reports.first { $0.feed == "urlhaus" }?.skipped == 1, "the line that is no URL is counted, not indexed")

        let source = LocalFeedsSource(store: store, directory: nil)
        func look(_ value: String) async throws -> SourceResult {
            try await source.lookUp(IndicatorParser.parse(value))
        }
        let c2 = try await look("45.155.205.21")
        #expect(c2.evidence == "threatfox-csv" && c2.categories.contains("Cobalt Strike"))
        #expect(c2.link == "https://threatfox.abuse.ch/ioc/1650001/")
        #expect(try await look("http://45.155.205.20/bins/x86").categories.contains("mirai"))
        #expect(try await look("45.155.205.22").evidence == "threatfox-json")
        #expect(try await look("45.155.205.23").categories == ["Emotet", "online"])
        #expect(try await look("45.155.205.24").evidence == "feodo-json")
        for hash in [
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "098f6bcd4621d373cade4e832627b4f6",
            "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3",
        ] {
            #expect(try await look(hash).categories.first == "AgentTesla", "each of the sample's hashes finds it")
        }
        #expect(try await look("45.156.131.200").categories == ["SBL600001"], "gzip body, /22 range")
        #expect(try await look("2a0f:ca87::1").evidence == "drop")
        #expect(try await look("45.157.0.9").evidence == "drop-json")
        #expect(try await look("2001:db8::77").evidence == "plain", "IPv6 written in full is canonical")
        #expect(try await look("http://phish.example-login.com/verify?id=7").evidence == "plain")
        #expect(try await look("login.misp-listed.net").evidence == "misp")
        #expect(try await look("45.155.205.26").evidence == "misp")
        #expect(try await look("http://not-for-detection.net/").status == .notFound, "MISP attributes not for IDS")

        let states = try await store.states()
        #expect(states.allSatisfy { $0.lastError == nil && $0.syncedAt != nil })
    }

    /// 304, a cut download, a body past the cap, an error status, a malformed body: the last good copy stays and
    /// the failure names the feed.
    @Test(arguments: kinds) func aFailedDownloadKeepsTheLastGoodCopy(_ kind: StoreKind) async throws {
        let database = try await kind.database()
        defer { database.cleanUp() }
        let (store, _) = FeedIndexTests.stores(database)
        let phase = Mutex(0)
        let good = Array("45.155.205.30\n45.155.205.31\n".utf8)
        let server = try await MockProviderServer { request in
            switch phase.withLock({ $0 }) {
            case 0: return .raw(200, good, headers: [("ETag", "\"v1\"")])
            case 1:
                return request.headers["if-none-match"] == "\"v1\""
                    ? .raw(304, []) : .raw(200, Array("45.155.205.99\n".utf8))
            case 2: return .cutShort(200, Array("45.155.205.40\n45.15".utf8), claimedLength: 4_096)
            case 3: return .endless(200, chunk: Array(repeating: UInt8(ascii: "#"), count: 65_536), totalBytes: 1 << 30)
            case 4: return .raw(503, Array("maintenance".utf8))
            default: return .raw(200, Array("<html><body>Login required</body></html>\n".utf8))
            }
        }
        defer { Task { try? await server.shutdown() } }
        let feed = FeedSettings(name: "blocklist", url: server.baseURL + "/list.txt", format: .plain, maxBytes: 1 << 20)
        let syncer = FeedSyncer(store: store)
        defer { Task { await syncer.shutdown() } }

        #expect(try await syncer.sync(feed).outcome == .updated)
        phase.withLock { $0 = 1 }
        let notModified = try await syncer.sync(feed)
        #expect(notModified.outcome == .unchanged && notModified.entries == 2)
        #expect(server.requests.last?.headers["if-none-match"] == "\"v1\"", "a conditional request")

        let started = ContinuousClock.now
        for (step, expected) in [
            (2, "cut short"), (3, "more than max_size"), (4, "HTTP 503"), (5, "nothing in it is a plain entry"),
        ] {
            phase.withLock { $0 = step }
            let report = try await syncer.sync(feed)
            guard case .failed(let reason) = report.outcome else {
                Issue.record("step \(step): \(report.line)")
                continue
            }
            #expect(reason.contains(expected), "step \(step): \(reason)")
            #expect(report.line.hasPrefix("blocklist: FAILED, kept the last good copy (2 entries)"))
            let kept = try await store.entries(matching: ["45.155.205.30", "45.155.205.40"]).map(\.entry.value)
            #expect(kept == ["45.155.205.30"], "step \(step): the last good copy is in use")
            let state = try await store.states().first { $0.name == "blocklist" }
            #expect(state?.lastError == reason && state?.entryCount == 2)
        }
        // The 1 GB body was cut at the cap, not read to its end.
        #expect(ContinuousClock.now - started < .seconds(60))
    }

    /// The formats as the publishers really write them, from `../shared/fixtures/feeds` (other projects' data,
    /// read in place). `.ci/run` points VERDICT_TEST_FEED_FIXTURES there; without it this test has nothing to read.
    @Test(
        .enabled(
            if: ProcessInfo.processInfo.environment["VERDICT_TEST_FEED_FIXTURES"] != nil,
            "VERDICT_TEST_FEED_FIXTURES is not set (.ci/run sets it to ../shared/fixtures/feeds)"
        )
    )
    func thePublishedSamplesParse() throws {
        let folder = ProcessInfo.processInfo.environment["VERDICT_TEST_FEED_FIXTURES"]!
        let cases: [(String, FeedFormat, Int)] = [
            ("urlhaus.csv", .urlhausCSV, 70), ("threatfox.json", .threatfoxJSON, 20),
            ("threatfox.csv", .threatfoxCSV, 5),
            ("feodo-ipblocklist.csv", .feodoCSV, 20), ("feodo-ipblocklist.json", .feodoJSON, 3),
            ("feodo-ipblocklist.txt", .plain, 200), ("malwarebazaar.csv", .malwarebazaarCSV, 60),
            ("malwarebazaar-sha256.txt", .plain, 200), ("spamhaus-drop.txt", .spamhausDrop, 200),
            ("spamhaus-dropv6.txt", .spamhausDrop, 78), ("spamhaus-edrop.txt", .spamhausDrop, 200),
            ("spamhaus-drop_v4.json", .spamhausDropJSON, 200), ("spamhaus-drop_v6.json", .spamhausDropJSON, 10),
            ("openphish-feed.txt", .plain, 190), ("emergingthreats-compromised-ips.txt", .plain, 200),
            ("blocklistde-all.txt", .plain, 45),
            ("misp-feed/07124362-c14b-5868-b516-e5d8dd938050.json", .mispFeed, 10),
        ]
        for (file, format, atLeast) in cases {
            let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: folder + "/" + file)))
            let parsed = try format.parse(bytes)
            #expect(
                parsed.entries.count >= atLeast,
                "\(file): \(parsed.entries.count) entries, \(parsed.skippedExamples)"
            )
        }
        let empty = Array(try Data(contentsOf: URL(fileURLWithPath: folder + "/spamhaus-edrop-2024-merged-notice.txt")))
        #expect(try FeedFormat.spamhausDrop.parse(empty).entries.isEmpty, "a comment-only list is empty, not an error")
        let manifest = Array(try Data(contentsOf: URL(fileURLWithPath: folder + "/misp-feed/manifest.json")))
        #expect(try MISPFeedEvent.eventIDs(inManifest: manifest).count == 2)
    }
}
