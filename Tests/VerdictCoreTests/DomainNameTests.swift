import Foundation
import Testing

@testable import VerdictCore

struct DomainNameTests {
    @Test(arguments: [
        ("WWW.Example.COM.", "www.example.com"), ("banana.קום", "banana.xn--9dbq2a"), ("papaya.рф", "papaya.xn--p1ai"),
        ("München.de", "xn--mnchen-3ya.de"), ("bücher.example", "xn--bcher-kva.example"),
        ("veriﬁedaccounts.com", "verifiedaccounts.com"), ("_dmarc.evil-site.com", "_dmarc.evil-site.com"),
        ("xn--80ak6aa92e.com", "xn--80ak6aa92e.com"), ("stratford-tc.gov.uk", "stratford-tc.gov.uk"),
        ("abc.onion", "abc.onion"), ("host.corp.invalid", "host.corp.invalid"),
    ])
    func canonicalForms(input: String, canonical: String) {
        #expect(DomainName.canonical(input) == canonical)
    }

    @Test(arguments: [
        "example.pumpkin", "localhost", "a..com", "-a.com", "a-.com", "a.com-", "nl_.lgms", "a.123", "a.c_m",
        "________.com", String(repeating: "a", count: 64) + ".com", "invoice.pdf", "a b.com",
    ])
    func notDomains(input: String) {
        #expect(DomainName.canonical(input) == nil)
    }

    @Test func longNamesAreRefused() {
        let label = String(repeating: "a", count: 60)
        let name = Array(repeating: label, count: 5).joined(separator: ".") + ".com"  // 309 characters
        #expect(DomainName.canonical(name) == nil)
        #expect(DomainName.canonical(Array(repeating: label, count: 4).joined(separator: ".") + ".com") != nil)
    }

    @Test func internalSuffixesCanBeAccepted() {
        #expect(DomainName.canonical("dc01.corp") == nil)
        #expect(DomainName.canonical("dc01.corp", extraTopLevelDomains: ["corp"]) == "dc01.corp")
    }

    /// RFC 3492 §7.1 sample strings (the ones that are valid IDNA labels), and two TLDs.
    @Test(arguments: [
        ("ليهمابتكلموشعربي؟", "xn--egbpdaj6bu4bxfgehfvwxn"),
        ("他们为什么不说中文", "xn--ihqwcrb4cv8a8dqg056pqjye"),
        ("Pročprostěnemluvíčesky".lowercased(), "xn--proprostnemluvesky-uyb24dma41a"),
        ("почемужеонинеговорятпорусски", "xn--b1abfaaepdrnnbgefbadotcwatmq2g4l"),
        ("3年b組金八先生", "xn--3b-ww4c5e180e575a65lsy2b"),
        ("рф", "xn--p1ai"), ("קום", "xn--9dbq2a"), ("plain", "plain"),
    ])
    func punycode(label: String, encoded: String) {
        #expect(Punycode.encodeLabel(label) == encoded)
    }

    @Test func publicSuffixRules() {
        let list = PublicSuffixList.shared
        #expect(list.publicSuffix(of: "www.example.co.uk") == "co.uk")
        #expect(list.registrableDomain(of: "www.example.co.uk") == "example.co.uk")
        #expect(list.publicSuffix(of: "a.b.kawasaki.jp") == "b.kawasaki.jp")  // *.kawasaki.jp
        #expect(list.publicSuffix(of: "city.kawasaki.jp") == "kawasaki.jp")  // !city.kawasaki.jp
        #expect(list.registrableDomain(of: "co.uk") == nil)
        #expect(list.isTopLevelDomain("xn--p1ai"))
        #expect(!list.isTopLevelDomain("pumpkin"))
        // Only TLDs with deeper rules need the full algorithm to tell whether they are the suffix.
        #expect(list.isPublicSuffixTheTopLevelDomain(of: "evil.zip", tld: "zip"))
        #expect(!list.isPublicSuffixTheTopLevelDomain(of: "evil.co.uk", tld: "uk"))
        #expect(list.isPublicSuffixTheTopLevelDomain(of: "evil.uk", tld: "uk"))
    }

    /// Short TLDs are looked up packed into a `UInt64`, longer ones by string: every TLD of the list must be found
    /// either way, in either case, and near misses (a prefix, an extension, a NUL) must not.
    @Test func everyTopLevelDomainIsFoundPackedOrNot() {
        let list = PublicSuffixList.shared
        let topLevelDomains = list.topLevelDomains
        #expect(topLevelDomains.count > 1000)
        #expect(topLevelDomains.contains { $0.utf8.count > 8 })
        for tld in topLevelDomains {
            #expect(list.isTopLevelDomain(tld), "\(tld)")
            #expect(DomainName.canonical("host.\(tld.uppercased())") == "host.\(tld)", "\(tld)")
            #expect(!list.isTopLevelDomain(tld + "q") || topLevelDomains.contains(tld + "q"), "\(tld)q")
            #expect(!list.isTopLevelDomain(tld + "\u{0}"), "\(tld) and a NUL")
        }
        #expect(!list.isTopLevelDomain("co"[...].dropLast()))
        // The extra labels, one of them (`localhost`) too long to pack; the user's own suffixes are never packed.
        #expect(DomainName.canonical("printer.LOCALHOST") == "printer.localhost")
        #expect(DomainName.canonical("printer.onion") == "printer.onion")
        #expect(DomainName.canonical("printer.corp") == nil)
        #expect(DomainName.canonical("printer.corp", extraTopLevelDomains: ["corp"]) == "printer.corp")
        #expect(DomainName.canonical("printer.corporate-lan", extraTopLevelDomains: ["corporate-lan"]) == nil)
        #expect(DomainName.canonical("printer.corporatelan", extraTopLevelDomains: ["corporatelan"]) != nil)
    }

    @Test(arguments: [
        ("printer.localhost", "localhost"), ("a.b.home.arpa", "home.arpa"), ("x.arpa", "arpa"),
        ("db.internal", "internal"), ("evil.com", nil), ("localhost.com", nil), ("arpa", "arpa"),
    ])
    func specialUseSuffixes(domain: String, suffix: String?) {
        #expect(DomainName.specialUseSuffix(of: domain) == suffix)
    }

    /// The compiled-in list must be exactly the ICANN section of Data/public_suffix_list.dat: regenerate
    /// with scripts/generate-embedded-data.py after changing the data file.
    @Test func embeddedListMatchesTheDataFile() throws {
        let text = String(decoding: try TestFiles.repositoryFile("Data/public_suffix_list.dat"), as: UTF8.self)
        var rules = Set<String>()
        var inICANN = false
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("// ===BEGIN ICANN DOMAINS===") { inICANN = true }
            if line.hasPrefix("// ===END ICANN DOMAINS===") { break }
            guard inICANN, !line.isEmpty, !line.hasPrefix("//") else { continue }
            var prefix = ""
            var name = Substring(line)
            if name.hasPrefix("!") {
                prefix = "!"
                name = name.dropFirst()
            }
            if name.hasPrefix("*.") {
                prefix = "*."
                name = name.dropFirst(2)
            }
            let labels = name.split(separator: ".").map { Punycode.encodeLabel(String($0).lowercased())! }
            rules.insert(prefix + labels.joined(separator: "."))
        }
        let lines = EmbeddedData.publicSuffixRules.split(separator: "\n").map(String.init)
        #expect(rules.count > 6000)
        #expect(Set(lines) == rules)
        // Sorted by bytes, each once: PublicSuffixList searches the text as it is, with nothing built at start.
        let bytes = lines.map { Array($0.utf8) }
        #expect(zip(bytes, bytes.dropFirst()).allSatisfy { $0.lexicographicallyPrecedes($1) })
    }

    /// A list as people write it (unsorted, comments, blank lines, indentation, CRLF) is read by the same rules
    /// as the compiled-in sorted one.
    @Test func rulesTextInAnyOrderWithCommentsIsReadTheSame() {
        let list = PublicSuffixList(
            rulesText: "// a comment\r\n\n  uk\r\nco.uk\n*.kawasaki.jp\n!city.kawasaki.jp\njp\n\tcom\nco.uk\n"
        )
        #expect(list.publicSuffix(of: "www.example.co.uk") == "co.uk")
        #expect(list.publicSuffix(of: "a.b.kawasaki.jp") == "b.kawasaki.jp")
        #expect(list.publicSuffix(of: "city.kawasaki.jp") == "kawasaki.jp")
        #expect(list.publicSuffix(of: "evil.com") == "com")
        #expect(list.publicSuffix(of: "evil.zip") == nil)
        #expect(list.topLevelDomains == ["uk", "jp", "com"])
        #expect(!list.isPublicSuffixTheTopLevelDomain(of: "evil.co.uk", tld: "uk"))
        #expect(list.isPublicSuffixTheTopLevelDomain(of: "evil.com", tld: "com"))
        let sorted = PublicSuffixList(rulesText: "!city.kawasaki.jp\n*.kawasaki.jp\nco.uk\ncom\njp\nuk")
        for domain in ["www.example.co.uk", "a.b.kawasaki.jp", "city.kawasaki.jp", "evil.com", "x.jp"] {
            #expect(sorted.publicSuffix(of: domain) == list.publicSuffix(of: domain), "\(domain)")
        }
    }
}

struct FalsePositiveTests {
    static func found(_ text: String) -> [String] {
        TextExtractor().indicators(in: text).map(\.description)
    }

    @Test(arguments: [
        "invoice.pdf", "run.sh", "docs.zip", "setup.py", "readme.md", "notes.one", "id_rsa.pub", "clip.mov",
        "test.two.zip", "bash ./install.sh", "~/Desktop/test.py", "C:\\Users\\bob\\evil.com", "/var/www/site.com",
    ])
    func fileNamesAndPaths(text: String) {
        #expect(Self.found(text).isEmpty)
    }

    @Test(arguments: [
        "user.name", "rule.id", "agent.name", "data.win", "logger.info", "System.IO", "System.Net.Security",
        "Microsoft.PowerShell.Security", "document.write(x)", "obj.link",
    ])
    func dottedCode(text: String) {
        #expect(Self.found(text).isEmpty)
    }

    @Test(arguments: [
        "version 2.4.1", "v1.2.3.4", "Chrome/119.0.0.0 Safari/537.36", "1.2.3.4.5", "10.0.19041.746",
        "openssl 1.1.1w", "at 12:30:45", "2026-11-22T13:00:01.123Z", "Nov 22 13:00:01 host", "1:1",
    ])
    func versionsAndTimes(text: String) {
        #expect(Self.found(text).isEmpty)
    }

    @Test(arguments: ["AA-F2-C9-A6-B3-4F", "ab:f2:c9:a6:b3:4f", "ACF2.C9A6.B34F", "00:1a:2b:3c:4d:5e"])
    func macAddresses(text: String) {
        #expect(Self.found(text).isEmpty)
    }

    @Test(arguments: [
        "Trojan.Win32.Agent.gen", "HEUR:Trojan.Script.Generic", "Backdoor.MSIL.Agent.ms", "W32.Sality.pe",
        "Win32.Virus.Ramnit.ac",
    ])
    func antivirusNames(text: String) {
        #expect(Self.found(text).isEmpty)
    }

    @Test func defangedLookalikesAreIndicators() {
        #expect(Self.found("evil[.]zip") == ["domain:evil.zip"])
        #expect(Self.found("user[.]name") == ["domain:user.name"])
        #expect(Self.found("http://run.sh/x") == ["url:http://run.sh/x", "domain:run.sh"])
        #expect(Self.found("resolve evil.pl and bad.cc") == ["domain:evil.pl", "domain:bad.cc"])
    }

    @Test func aHashUsedAsAFileNameIsStillAHash() {
        let hash = "ce9f70e104c07d92fc05fbd6000839fd6a87ff010e706396f87dd679244ed97b"
        #expect(Self.found("dropped \(hash).exe") == ["sha256:\(hash)"])
    }

    @Test func adversarialInputsGiveNothingOdd() {
        for (name, input) in ExtractionBenchmark.adversarialInputs() {
            let found = TextExtractor().indicators(in: input)
            // Each of these is about 1 MB of junk: at most a handful of real indicators may be inside.
            #expect(found.count <= 2, "\(name): \(found.prefix(3))")
        }
    }
}
