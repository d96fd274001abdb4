import Foundation
import Testing
import VerdictCore
import VerdictSources
import VerdictTestSupport

struct LocalFeedsSourceTests {
    @Test func blocklistsAndAllowlistsInEveryFormat() async throws {
        let directory = try FeedsDirectoryTests.TemporaryDirectory()
        try directory.write("blocklists/c2.txt", "# our C2 list\n185.220.101.4\nevil-updates.com\n\n")
        try directory.write("blocklists/ranges.cidr", "45.95.147.0/24\n2a0b:4140::/32\n")
        try directory.write(
            "blocklists/iocs.csv",
            "value,category\n\"http://evil-updates.com/a.sh\",payload_delivery\n44D88612FEA8A8F36DE82E1278ABB02F,test_file\n"
        )
        try directory.write("allowlists/partners.list", "partner-cdn.net\n")
        let source = try LocalFeedsSource(directory: directory.url)
        #expect(!source.isEmpty && !source.isExternal)

        func look(_ type: IndicatorType, _ value: String) async throws -> SourceResult {
            try await source.lookUp(Indicator(type: type, value: value))
        }
        let address = try await look(.ipv4, "185.220.101.4")
        #expect(address.verdict == .malicious && address.score == 100 && address.evidence == "c2")
        #expect(try await look(.domain, "cdn.evil-updates.com").evidence == "c2")
        #expect(try await look(.ipv4, "45.95.147.236").categories == ["ranges"])
        #expect(try await look(.ipv6, "2a0b:4140:2b09::5").status == .ok)
        #expect(try await look(.url, "http://evil-updates.com/a.sh").categories == ["payload_delivery"])
        #expect(try await look(.md5, "44d88612fea8a8f36de82e1278abb02f").categories == ["test_file"])
        #expect(try await look(.domain, "img.partner-cdn.net").verdict == .harmless)
        #expect(try await look(.ipv4, "45.95.148.1").status == .notFound)
    }

    /// A listed URL matches however its scheme and host were written, on the list and in the alert; its path
    /// keeps its case on both sides.
    @Test func listedURLsMatchInTheirCanonicalForm() async throws {
        let directory = try FeedsDirectoryTests.TemporaryDirectory()
        try directory.write("blocklists/urls.txt", "HTTP://Evil-Updates.COM/Payload/Stage2.EXE\n")
        let source = try LocalFeedsSource(directory: directory.url)
        for written in ["http://evil-updates.com/Payload/Stage2.EXE", "hxxp://EVIL-updates[.]com/Payload/Stage2.EXE"] {
            let indicator = try IndicatorParser.parse(written)
            #expect(try await source.lookUp(indicator).verdict == .malicious, "\(written) → \(indicator.value)")
        }
        let otherPath = try IndicatorParser.parse("http://evil-updates.com/payload/stage2.exe")
        #expect(try await source.lookUp(otherPath).status == .notFound, "paths are case-sensitive")
    }

    @Test func aBadLineNamesTheFileAndLine() throws {
        let directory = try FeedsDirectoryTests.TemporaryDirectory()
        try directory.write("blocklists/bad.txt", "185.220.101.4\nnot an indicator at all\n")
        #expect {
            try LocalFeedsSource(directory: directory.url)
        } throws: { error in
            String(describing: error).hasSuffix(
                "bad.txt line 2: \"not an indicator at all\" is not an address, CIDR block, domain, URL, email or hash; fix or remove the line"
            )
        }
    }

    @Test func noFoldersMeansAnEmptySource() throws {
        let directory = try FeedsDirectoryTests.TemporaryDirectory()
        #expect(try LocalFeedsSource(directory: directory.url).isEmpty)
    }
}
