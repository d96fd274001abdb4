import Foundation
import Testing

@testable import VerdictCore

struct WarninglistTests {
    static func list(_ type: String, _ entries: [String], attributes: [String]? = nil, name: String = "test-list")
        throws
        -> Warninglist
    {
        var writer = JSONWriter()
        let attributesJSON = attributes.map { JSONValue.array($0.map(JSONValue.string)) }
        var members: [(key: String, value: JSONValue)] = [
            ("name", .string(name)), ("version", .number("1")), ("description", .string("test")),
            ("type", .string(type)),
            ("list", .array(entries.map(JSONValue.string))),
        ]
        if let attributesJSON { members.append(("matching_attributes", attributesJSON)) }
        writer.value(.object(members))
        return try Warninglist(json: writer.bytes)
    }

    static func domain(_ value: String) -> Indicator { Indicator(type: .domain, value: value) }

    @Test func stringListsMatchExactValuesOnly() throws {
        let list = try Self.list("string", ["Example.com", "sytes.net"], attributes: ["domain", "hostname"])
        #expect(list.matches(Self.domain("example.com")))
        #expect(list.matches(Self.domain("sytes.net")))
        #expect(!list.matches(Self.domain("x.sytes.net")))  // a popular parent never hides its subdomains
        #expect(!list.matches(Indicator(type: .url, value: "http://example.com/")))  // not in matching_attributes
    }

    @Test func hostnameListsMatchTheNameAndItsSubdomains() throws {
        let list = try Self.list("hostname", [".dyndns.org", "no-ip.com"], attributes: ["domain", "hostname", "url"])
        #expect(list.matches(Self.domain("dyndns.org")))
        #expect(list.matches(Self.domain("a.b.dyndns.org")))
        #expect(list.matches(Self.domain("x.no-ip.com")))
        #expect(!list.matches(Self.domain("notdyndns.org")))
        // A host list never matches a URL on that host: the URL is a real indicator.
        #expect(!list.matches(Indicator(type: .url, value: "http://x.no-ip.com/payload.exe")))
    }

    @Test func substringListsMatchContainedText() throws {
        let list = try Self.list("substring", ["googleusercontent"], attributes: ["domain", "url"])
        #expect(list.matches(Self.domain("lh3.googleusercontent.com")))
        #expect(list.matches(Indicator(type: .url, value: "https://doc-0k.GoogleUserContent.com/x")))
        #expect(!list.matches(Self.domain("google.com")))
    }

    @Test func cidrListsMatchAddressesInTheirBlocks() throws {
        let list = try Self.list("cidr", ["8.8.8.0/24", "1.1.1.1", "2001:4860::/32", "bogus"], attributes: ["ip-dst"])
        #expect(list.matches(Indicator(type: .ipv4, value: "8.8.8.200")))
        #expect(list.matches(Indicator(type: .ipv4, value: "1.1.1.1")))
        #expect(!list.matches(Indicator(type: .ipv4, value: "1.1.1.2")))
        #expect(list.matches(Indicator(type: .ipv6, value: "2001:4860:4860::8888")))
        #expect(!list.matches(Indicator(type: .ipv6, value: "2001:4861::1")))
        #expect(list.entryCount == 4)
    }

    @Test func regexListsUseDelimitersAndFlags() throws {
        let list = try Self.list("regex", ["/^[a-z0-9-]+\\.azurewebsites\\.NET$/i", "#^\\d+\\.in-addr\\.arpa$#"])
        #expect(list.matches(Self.domain("myapp.azurewebsites.net")))
        #expect(!list.matches(Self.domain("a.b.azurewebsites.net")))
        #expect(list.matches(Self.domain("4.in-addr.arpa")))
    }

    @Test func matchingAttributesMapToIndicatorTypes() throws {
        let hashes = try Self.list("string", ["44d88612fea8a8f36de82e1278abb02f"], attributes: ["md5", "filename|md5"])
        #expect(hashes.appliesTo == [.md5])
        #expect(hashes.matches(Indicator(type: .md5, value: "44d88612fea8a8f36de82e1278abb02f")))
        let emails = try Self.list("string", ["abuse@example.net"], attributes: ["email-src", "email-dst"])
        #expect(emails.appliesTo == [.email])
        let all = try Self.list("string", ["x"])
        #expect(all.appliesTo == Set(IndicatorType.allCases))
    }

    @Test func policiesDefaultByWhatTheListHolds() {
        #expect(Warninglist.defaultPolicy(name: "public-dns-v4", category: "false-positive") == .suppress)
        #expect(Warninglist.defaultPolicy(name: "amazon-aws", category: "false-positive") == .annotate)
        #expect(Warninglist.defaultPolicy(name: "vpn-ipv4", category: nil) == .annotate)
        #expect(Warninglist.defaultPolicy(name: "dynamic-dns", category: nil) == .annotate)
        #expect(Warninglist.defaultPolicy(name: "url-shortener", category: nil) == .annotate)
        #expect(Warninglist.defaultPolicy(name: "bank-website", category: "known") == .annotate)
    }

    @Test(arguments: [
        ("{", "not valid JSON"), (#"{"type":"string","list":[]}"#, "no \"name\""),
        (#"{"name":"x","type":"glob","list":[]}"#, "\"type\" must be one of"),
        (#"{"name":"x","type":"cidr"}"#, "no \"list\" array"),
    ])
    func malformedListsSayWhatIsWrong(json: String, message: String) {
        #expect {
            try Warninglist(json: Array(json.utf8))
        } throws: { error in
            String(describing: error).contains(message)
        }
    }

    @Test func shippedListsLoadWithTheirPolicies() {
        let byName = Dictionary(uniqueKeysWithValues: Warninglist.defaults.map { ($0.name, $0) })
        #expect(byName["verdict-public-dns-resolvers"]?.policy == .suppress)
        #expect(byName["verdict-popular-domains"]?.policy == .suppress)
        #expect(byName["url-shortener"]?.policy == .annotate)
        #expect((byName["verdict-popular-domains"]?.entryCount ?? 0) > 3000)
        #expect(byName["eicar.com"]?.policy == .suppress)
        #expect(byName["verdict-abused-services"]?.policy == .annotate)
        #expect(byName["verdict-abused-services"]?.namesAbusedService == true)
        #expect(byName["verdict-popular-domains"]?.namesAbusedService == false)
    }

    /// Every MISP list of abused services is one by its name, whatever folder it was read from.
    @Test(arguments: Array(Warninglist.abusedServiceLists))
    func abusedServiceListsAnnotateByName(name: String) throws {
        let list = try Self.list("hostname", ["example-service.net"], name: name)
        #expect(list.namesAbusedService)
        #expect(list.policy == .annotate)
    }

    /// The shipped lists as MISP writes them (Data/warninglists), each with its file's name.
    static func dataFileLists() throws -> [(file: String, document: JSONValue, bytes: [UInt8])] {
        let folder = TestFiles.repositoryRoot.appendingPathComponent("Data/warninglists")
        return try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".json") }
            .sorted()
            .map { file in
                let bytes = Array(try TestFiles.repositoryFile("Data/warninglists/" + file))
                return (file, try JSONValue(parsing: bytes), bytes)
            }
    }

    /// The signature filter may only say "maybe" for a non-member, never "no" for a member: every entry of
    /// every shipped list, in any letter case a URL can carry, is still found.
    @Test func listsFindEveryEntryPastTheirSignatureFilter() throws {
        let files = try Self.dataFileLists()
        for list in Warninglist.defaults where list.type == .string || list.type == .hostname {
            let document = try #require(files.first { $0.document["name"]?.scalarText == list.title }?.document)
            guard case .array(let entries)? = document["list"] else { continue }
            let type = list.appliesTo.contains(.domain) ? IndicatorType.domain : list.appliesTo.min()!
            for entry in entries.compactMap(\.scalarText) {
                let value = entry.lowercased().trimmingPrefix(".").description
                #expect(list.matches(Indicator(type: type, value: value)), "\(list.name): \(value)")
            }
        }
        let urls = try Self.list("string", ["http://evil-site.com/Login"], attributes: ["url"])
        #expect(urls.matches(Indicator(type: .url, value: "http://evil-site.com/LOGIN")))
        #expect(urls.matches(Indicator(type: .url, value: "http://evil-site.com/login")))
        #expect(!urls.matches(Indicator(type: .url, value: "http://evil-site.com/logout")))
        let unicode = try Self.list("string", ["http://evil-site.com/Ärger"], attributes: ["url"])
        #expect(unicode.matches(Indicator(type: .url, value: "http://evil-site.com/ÄRGER")))
    }

    /// The compiled-in lists, whose entries scripts/generate-embedded-data.py prepares, match exactly what reading
    /// Data/warninglists at run time gives: same names, policies, types and entries, and nothing more.
    @Test func compiledInListsMatchTheDataFiles() throws {
        let files = try Self.dataFileLists()
        #expect(files.count == Warninglist.defaults.count, "regenerate with scripts/generate-embedded-data.py")
        for (list, file) in zip(Warninglist.defaults, files) {
            let read = try Warninglist(json: file.bytes)
            #expect(list.name == read.name, "\(file.file)")
            #expect(list.policy == read.policy, "\(file.file)")
            #expect(list.type == read.type, "\(file.file)")
            #expect(list.appliesTo == read.appliesTo, "\(file.file)")
            guard case .array(let entries)? = file.document["list"] else {
                Issue.record("\(file.file) has no list")
                continue
            }
            let trimmed: [String] = entries.compactMap(\.scalarText).map { entry in
                Warninglist.trimming(entry) { $0 == 0x20 || $0 == 0x09 }
            }
            let unique = Set(Warninglist.exactEntries(trimmed, type: list.type).filter { !$0.isEmpty })
            if list.type == .string || list.type == .hostname {
                #expect(list.entryCount == unique.count, "\(file.file)")
                #expect(read.entryCount >= unique.count, "\(file.file)")
            } else {
                #expect(list.entryCount == read.entryCount, "\(file.file)")
            }
        }
    }

    /// The sorted store answers membership by bytes, as the Set it replaced did.
    @Test func sortedEntriesFindMembersAndOnlyThem() {
        let values = ["b.example", "a.example", "ab", "a", "b.example", "zz", "é.example", ""]
        let entries = SortedEntries(values)
        #expect(entries.count == 6, "repeats and empty strings are dropped")
        for value in values where !value.isEmpty { #expect(entries.contains(value), "\(value)") }
        for absent in ["", "b", "aa", "abc", "b.exampl", "b.examplee", "zzz", "0", "é"] {
            #expect(!entries.contains(absent), "\(absent)")
        }
        var listed: [String] = []
        entries.forEach { listed.append(String(decoding: $0, as: UTF8.self)) }
        #expect(listed == ["a", "a.example", "ab", "b.example", "zz", "é.example"])
        let embedded = SortedEntries(sortedLines: listed.joined(separator: "\n"))
        #expect(embedded.count == 6 && embedded.contains("ab") && !embedded.contains("b"))
        #expect(SortedEntries([]).count == 0 && !SortedEntries([]).contains("a"))
    }
}

struct SuppressorTests {
    let suppressor = Suppressor()

    func assess(_ type: IndicatorType, _ value: String) -> Assessment {
        suppressor.assess(Indicator(type: type, value: value))
    }

    @Test func hardRulesComeFirst() {
        #expect(assess(.ipv4, "10.0.0.50") == .suppressed(reason: "private"))
        #expect(assess(.ipv6, "fe80::1") == .suppressed(reason: "reserved:link-local"))
        #expect(assess(.md5, "d41d8cd98f00b204e9800998ecf8427e") == .suppressed(reason: "empty-file"))
        #expect(assess(.sha1, "da39a3ee5e6b4b0d3255bfef95601890afd80709") == .suppressed(reason: "empty-file"))
        #expect(
            assess(.sha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
                == .suppressed(reason: "empty-file")
        )
        #expect(assess(.md5, "00000000000000000000000000000000") == .suppressed(reason: "placeholder"))
        #expect(assess(.domain, "printer.local") == .suppressed(reason: "special-name:local"))
        #expect(assess(.domain, "router.home.arpa") == .suppressed(reason: "special-name:home.arpa"))
        #expect(assess(.domain, "4.3.2.1.in-addr.arpa") == .suppressed(reason: "special-name:arpa"))
    }

    @Test func urlsAndEmailsInheritTheirHostsHardReason() {
        #expect(assess(.url, "http://192.168.1.10:8080/admin") == .suppressed(reason: "private"))
        #expect(assess(.url, "http://[fd00::1]/x") == .suppressed(reason: "private"))
        #expect(assess(.url, "https://intranet.internal/x") == .suppressed(reason: "special-name:internal"))
        #expect(assess(.email, "root@localhost.localdomain.test") == .suppressed(reason: "special-name:test"))
    }

    @Test func warninglistedHostsNeverSuppressURLsOrEmails() {
        #expect(assess(.domain, "google.com") == .suppressed(reason: "warninglist:verdict-popular-domains"))
        #expect(assess(.url, "https://drive.google.com/uc?id=malware") == .lookUp(warninglists: []))
        #expect(assess(.email, "phisher@gmail.com") == .lookUp(warninglists: []))
        #expect(assess(.ipv4, "8.8.8.8") == .suppressed(reason: "warninglist:verdict-public-dns-resolvers"))
        #expect(
            assess(.ipv6, "2606:4700:4700::1111") == .suppressed(reason: "warninglist:verdict-public-dns-resolvers")
        )
    }

    @Test func annotateListsAnnotateAndNeverHide() {
        #expect(assess(.domain, "x.bit.ly") == .lookUp(warninglists: ["url-shortener", "verdict-abused-services"]))
        #expect(assess(.domain, "evil-site.com") == .lookUp(warninglists: []))
    }

    @Test func ignoredListsDoNothing() throws {
        var lists = Warninglist.defaults
        for index in lists.indices { lists[index].policy = .ignore }
        let quiet = Suppressor(warninglists: lists)
        #expect(quiet.assess(Indicator(type: .ipv4, value: "8.8.8.8")) == .lookUp(warninglists: []))
        #expect(quiet.assess(Indicator(type: .ipv4, value: "10.1.1.1")) == .suppressed(reason: "private"))
    }

    @Test func allowListAndInternalSuffixes() {
        var allow = AllowList(
            text:
                "# ours\n45.10.0.0/16\nshop-example.com  # and subdomains\n2a0b:4140::/32\nbadc0ffee0ddf00dbadc0ffee0ddf00d\n"
        )
        allow.add("")
        let suppressor = Suppressor(allowList: allow, internalSuffixes: ["corp.shop-example.net", ".lan"])
        func assess(_ type: IndicatorType, _ value: String) -> Assessment {
            suppressor.assess(Indicator(type: type, value: value))
        }
        #expect(assess(.ipv4, "45.10.200.1") == .suppressed(reason: "allowlist"))
        #expect(assess(.ipv4, "45.11.0.1") == .lookUp(warninglists: []))
        #expect(assess(.domain, "www.shop-example.com") == .suppressed(reason: "allowlist"))
        #expect(assess(.url, "https://shop-example.com/login") == .suppressed(reason: "allowlist"))
        #expect(assess(.ipv6, "2a0b:4140::9") == .suppressed(reason: "allowlist"))
        #expect(assess(.md5, "badc0ffee0ddf00dbadc0ffee0ddf00d") == .suppressed(reason: "allowlist"))
        #expect(
            assess(.domain, "dc01.corp.shop-example.net")
                == .suppressed(reason: "internal-suffix:corp.shop-example.net")
        )
        #expect(assess(.domain, "nas.lan") == .suppressed(reason: "internal-suffix:lan"))

        let extractor = IndicatorExtractor(suppressor: suppressor)
        let result = extractor.extract(text: "login from nas.lan and dc01.corp.shop-example.net to evil-site.com")
        #expect(result.suppressed.map(\.indicator.value) == ["nas.lan", "dc01.corp.shop-example.net"])
        #expect(result.indicators.map(\.indicator.value) == ["evil-site.com"])
    }

    /// The suppressor judges a URL or an email by the host the scanner parsed: it must be the one the value names.
    @Test func theHostLinkedToAURLOrEmailIsTheOneItNames() {
        let text = """
            https://Evil-Site.COM:8443/a http://[2001:db8::1]:80/x http://[::ffff:203.0.113.9]/y
            ftp://user:pw@files.example.org/f hxxp://198.51.100[.]4/z Bob@Mail.Example.NET evil-site.com
            https://evil-site.com/b http://xn--mnchen-3ya.de/ mailto:x@[203.0.113.5] https://bücher.example/q
            """
        let found = TextExtractor().scan(Array(text.utf8))
        var linked = 0
        found.forEachWithHost { indicator, host in
            #expect(host == indicator.host, "\(indicator)")
            if host != nil { linked += 1 }
        }
        #expect(linked >= 8)
        // Judged by the scanner's hosts or by hosts parsed again from each value, the result is the same.
        let extractor = IndicatorExtractor()
        #expect(extractor.extract(text: text) == extractor.extract(values: found.indicators))
    }
}
