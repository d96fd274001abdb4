import Foundation
import Testing
import VerdictCore

/// The false positives that remained after the first round, each with the negatives that must stay indicators.
struct LinkLabelTests {
    static func found(_ text: String) -> [String] {
        TextExtractor().indicators(in: text).map(\.description)
    }

    @Test(arguments: [
        (
            "https://blog.evil-host.net/2024/loader/[Analysis of the loader]",
            "url:https://blog.evil-host.net/2024/loader/"
        ),
        ("https://evil-host.net/report.pdf[Report, part 2]", "url:https://evil-host.net/report.pdf"),
        ("* https://evil-host.net[Home page]", "url:https://evil-host.net"),
        ("[earlier research](https://evil-host.net/research/a)", "url:https://evil-host.net/research/a"),
        ("(see https://evil-host.net/a/b)", "url:https://evil-host.net/a/b"),
        ("(https://evil-host.net/a)and more", "url:https://evil-host.net/a"),
        ("[https://evil-host.net/a/b]", "url:https://evil-host.net/a/b"),
        ("See <https://evil-host.net/a/b> for details.", "url:https://evil-host.net/a/b"),
    ])
    func aLabelOrAnEnclosingBracketIsNotPartOfTheURL(text: String, url: String) {
        #expect(Self.found(text).first == url)
    }

    @Test(arguments: [
        ("https://evil-host.net/list?ids[]=4&f[name]=x", "url:https://evil-host.net/list?ids[]=4&f[name]=x"),
        ("https://evil-host.net/wiki/Malware_(computing)", "url:https://evil-host.net/wiki/Malware_(computing)"),
        ("hxxps://evil-host[.]net/a[.]php[/]x", "url:https://evil-host.net/a.php/x"),
        ("http://[2a0b:4140:2b09::5]:8080/x", "url:http://[2a0b:4140:2b09::5]:8080/x"),
    ])
    func bracketsThatBelongToTheURLStay(text: String, url: String) {
        #expect(Self.found(text).first == url)
    }
}

struct AddressNamedInAConfigurationTests {
    static func found(_ text: String) -> [String] {
        TextExtractor().indicators(in: text).map(\.description)
    }

    @Test(arguments: [
        "server@45.77.120.3", "c2@45.77.120.3", "backup_c2@45.77.120.3", "c2_1@45.77.120.3",
        "Server@45.77.120.3", "anything@45.77.120.3:443",
    ])
    func aSettingNameBeforeAnAddressIsNoEmail(text: String) {
        #expect(Self.found("config: " + text + " ok") == ["ipv4:45.77.120.3"])
    }

    @Test func realEmailsStay() {
        #expect(Self.found("mail jane.doe@evil-host.net") == ["email:jane.doe@evil-host.net", "domain:evil-host.net"])
        // An address after a person's name is kept as written (the public suites expect it).
        #expect(Self.found("email@123.123.123.123").first == "email:email@123.123.123.123")
    }
}

struct PlaceholderTests {
    static func found(_ text: String) -> [String] {
        TextExtractor().indicators(in: text).map(\.description)
    }

    @Test(arguments: [
        "Failed password for root from xxx.xxx.xxx.xxx port 22", "client x.x.x.x", "www.xxx.xxx",
        "http://xxx.xxx/path", "host.domain.com", "dc01.domain.com", "mail.yourdomain.com", "admin@yourcompany.com",
        "https://your-domain.com/login", "XXX.XXX.XXX.XXX",
    ])
    func fillInsAreNotIndicators(text: String) {
        #expect(Self.found(text).isEmpty)
    }

    @Test func realNamesThatLookAlikeStay() {
        #expect(Self.found("xxx.com") == ["domain:xxx.com"])
        #expect(Self.found("domain.com") == ["domain:domain.com"])
        #expect(Self.found("update.domain-check.net") == ["domain:update.domain-check.net"])
        #expect(Self.found("evil[.]xxx") == ["domain:evil.xxx"])
    }
}

struct FileNameContextTests {
    static func found(_ text: String) -> [String] {
        TextExtractor().indicators(in: text).map(\.description)
    }

    static let hash = "2f5e1a0b8c3d4e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f"

    @Test(arguments: [
        "File name: update.cab", "Filename\tinstaller.cr", "file_name=stage.ml", "Dropped files: loader.cab, drop.cr",
        "Files:\nloader.cab\nsetup.ml", "### File names\n- a.cab\n- b.cr",
    ])
    func namesWhereTheTextNamesFiles(text: String) {
        #expect(Self.found(text).isEmpty)
    }

    @Test func aNameNextToAHashOnATableRowIsAFileName() {
        #expect(Self.found("| \(Self.hash) | update.cr | Win32/Agent.ABC |") == ["sha256:\(Self.hash)"])
        #expect(Self.found("\(Self.hash),stage.cab,2024-03-01") == ["sha256:\(Self.hash)"])
        #expect(Self.found("/tmp/x/loader.cab") == [])
    }

    @Test func theSameNamesElsewhereAreDomains() {
        #expect(Self.found("The implant beacons to update.cr every hour") == ["domain:update.cr"])
        #expect(Self.found("File name: evil[.]cab") == ["domain:evil.cab"])
        #expect(Self.found("File name: x.exe, C2: update-check.com") == ["domain:update-check.com"])
        #expect(
            Self.found("| \(Self.hash) | update-check.com | C2 |") == [
                "sha256:\(Self.hash)", "domain:update-check.com",
            ]
        )
        #expect(Self.found("Files are fetched from\nstage.cr") == ["domain:stage.cr"])
    }
}

struct RoundTwoSuppressionTests {
    @Test func abusedServicesAreAnnotatedWhateverTopListTheyAreOn() {
        let extractor = IndicatorExtractor()
        let result = extractor.extract(text: "no-ip.org ifconfig.me api.ipify.org vercel.app pages.dev google.com")
        let looked = Dictionary(uniqueKeysWithValues: result.indicators.map { ($0.indicator.value, $0.warninglists) })
        for value in ["no-ip.org", "ifconfig.me", "api.ipify.org", "vercel.app", "pages.dev"] {
            #expect(looked[value]?.contains("verdict-abused-services") == true, "\(value)")
        }
        #expect(looked["vercel.app"]?.contains("verdict-popular-domains") == true)
        #expect(result.suppressed.map(\.indicator.value) == ["google.com"])
    }

    @Test func aUserLoadedTopListCannotSuppressAnAbusedService() throws {
        let topList = #"{"name":"tranco","type":"hostname","list":["duckdns.org","example-popular.com"]}"#
        let dynamicDNS = #"{"name":"dynamic-dns","type":"hostname","list":[".duckdns.org"]}"#
        let suppressor = Suppressor(warninglists: [
            try Warninglist(json: Array(topList.utf8)), try Warninglist(json: Array(dynamicDNS.utf8)),
        ])
        #expect(try Warninglist(json: Array(dynamicDNS.utf8)).policy == .annotate)
        #expect(
            suppressor.assess(Indicator(type: .domain, value: "duckdns.org"))
                == .lookUp(warninglists: ["tranco", "dynamic-dns"])
        )
        #expect(
            suppressor.assess(Indicator(type: .domain, value: "example-popular.com"))
                == .suppressed(reason: "warninglist:tranco")
        )
    }

    @Test func everyHashAWazuhAlertCarriesIsReportedWithItsReason() throws {
        let empty = ["d41d8cd98f00b204e9800998ecf8427e", "da39a3ee5e6b4b0d3255bfef95601890afd80709"]
        let eicar = "44d88612fea8a8f36de82e1278abb02f"
        let line = """
            {"rule":{"id":"87105"},"integration":"virustotal","data":{"virustotal":{"found":"1","source":\
            {"alert_id":"1","file":"/tmp/eicar","md5":"\(eicar)","sha1":"3395856ce81f2b7382dee72602f798b642f14140"}}}}
            """
        let integration = try IndicatorExtractor().extract(alertLine: Array(line.utf8))
        #expect(integration.indicators.isEmpty)
        #expect(
            integration.suppressed.map { [$0.indicator.value, $0.field ?? "", $0.reason] } == [
                [eicar, "data.virustotal.source.md5", "warninglist:eicar.com"],
                ["3395856ce81f2b7382dee72602f798b642f14140", "data.virustotal.source.sha1", "warninglist:eicar.com"],
            ]
        )
        let unknown = "0123456789abcdef0123456789abcdef"
        let other = try IndicatorExtractor().extract(
            alertLine: Array(#"{"data":{"virustotal":{"source":{"md5":"\#(unknown)"}}}}"#.utf8)
        )
        #expect(other.indicators.map(\.indicator.value) == [unknown])

        let fim = """
            {"rule":{"id":"550"},"syscheck":{"path":"/srv/a","md5_before":"\(empty[0])","sha1_before":"\(empty[1])",\
            "md5_after":"\(unknown)"}}
            """
        let changed = try IndicatorExtractor().extract(alertLine: Array(fim.utf8))
        #expect(changed.indicators.map(\.indicator.value) == [unknown])
        #expect(changed.suppressed.map(\.reason) == ["empty-file", "empty-file"])
    }

    @Test func linkLocalAnswersInPacketbeatAlertsAreReported() throws {
        let line = """
            {"data":{"dns":{"question":{"name":"evil-c2.com"},"answers":[{"data":"fe80::20c:29ff:fe9c:1234"}],\
            "resolved_ip":["fe80::20c:29ff:fe9c:1235","45.77.1.3"]}}}
            """
        let result = try IndicatorExtractor().extract(alertLine: Array(line.utf8))
        #expect(result.indicators.map(\.indicator.value) == ["evil-c2.com", "45.77.1.3"])
        #expect(
            result.suppressed.map { [$0.indicator.value, $0.field ?? "", $0.reason] } == [
                ["fe80::20c:29ff:fe9c:1234", "data.dns.answers.data", "reserved:link-local"],
                ["fe80::20c:29ff:fe9c:1235", "data.dns.resolved_ip", "reserved:link-local"],
            ]
        )
    }
}

extension FileNameContextTests {
    @Test func aColumnOfFileNamesHoldsFileNames() {
        let table = """
            | File name | Purpose | C2 |
            |---|---|---|
            | setup.cab | installer | update-check.cc |
            | stage.cr | loader | evil[.]cab |
            """
        #expect(Self.found(table) == ["domain:update-check.cc", "domain:evil.cab"])
    }

    @Test func fileEarlierInAParagraphSaysNothingOfALaterName() {
        let prose = "The malicious file is delivered by e-mail and, once opened, the loader contacts update.cr"
        #expect(Self.found(prose) == ["domain:update.cr"])
        #expect(Self.found("profile: stage.cr") == ["domain:stage.cr"])
    }
}

/// The benchmark's report corpus is realistic only if extraction reads it right: its labelled links give URLs
/// without their labels, and its file-name columns give no domains.
struct ReportCorpusTests {
    @Test func linksInTheCorpusComeOutWithoutTheirLabels() {
        let text = ReportCorpus.text(.links, bytes: 64 << 10)
        let urls = TextExtractor().indicators(in: text).filter { $0.type == .url }.map(\.value)
        #expect(urls.count > 100)
        #expect(urls.allSatisfy { !$0.contains("[") && !$0.contains("]") && !$0.hasSuffix(")") }, "\(urls.prefix(5))")
    }

    @Test func fileNamesInTheCorpusTablesAreNotDomains() {
        let text = ReportCorpus.text(.tables, bytes: 64 << 10)
        let domains = TextExtractor().indicators(in: text).filter { $0.type == .domain }.map(\.value)
        let fileExtensions = [".zip", ".cab", ".sh", ".js", ".exe", ".dll", ".msi"]
        #expect(
            !domains.contains { domain in fileExtensions.contains { domain.hasSuffix($0) } },
            "\(domains.prefix(5))"
        )
    }
}
