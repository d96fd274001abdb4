import Foundation
import Testing
import VerdictCore
import VerdictSources
import VerdictTestSupport

struct FeedsDirectoryTests {
    @Test func anEmptyDirectoryGivesTheBuiltInLists() throws {
        let directory = try TemporaryDirectory()
        let feeds = try FeedsDirectory(directory: directory.url)
        #expect(feeds.warninglists.map(\.name) == Warninglist.defaults.map(\.name))
        #expect(feeds.allowList.isEmpty)
        #expect(feeds.internalSuffixes.isEmpty)
    }

    @Test func listsInBothLayoutsPoliciesAllowListAndSuffixes() throws {
        let directory = try TemporaryDirectory()
        try directory.write(
            "warninglists/lists/tor-exits/list.json",
            #"{"name":"Tor exit nodes","type":"cidr","list":["185.220.101.0/24"],"matching_attributes":["ip-dst"]}"#
        )
        try directory.write(
            "warninglists/our-saas.json",
            #"{"name":"our-saas","type":"hostname","category":"false-positive","list":["saas-vendor.com"]}"#
        )
        try directory.write(
            "warninglist-policies.json",
            #"{"tor-exits":"annotate","verdict-public-dns-resolvers":"ignore"}"#
        )
        try directory.write("allowlist.txt", "# our egress\n45.10.0.0/16\n")
        try directory.write("internal-suffixes.txt", "corp  # AD forest\n\nlan\n")
        let feeds = try FeedsDirectory(directory: directory.url)
        let suppressor = feeds.suppressor
        #expect(
            suppressor.assess(Indicator(type: .ipv4, value: "185.220.101.4")) == .lookUp(warninglists: ["tor-exits"])
        )
        #expect(
            suppressor.assess(Indicator(type: .domain, value: "api.saas-vendor.com"))
                == .suppressed(reason: "warninglist:our-saas")
        )
        #expect(suppressor.assess(Indicator(type: .ipv4, value: "8.8.8.8")) == .lookUp(warninglists: []))
        #expect(suppressor.assess(Indicator(type: .ipv4, value: "45.10.1.1")) == .suppressed(reason: "allowlist"))
        #expect(feeds.internalSuffixes == ["corp", "lan"])
        let extracted = IndicatorExtractor(suppressor: suppressor).extract(text: "dc01.corp asked 185.220.101.4")
        #expect(extracted.suppressed.map(\.reason) == ["internal-suffix:corp"])
        #expect(extracted.indicators.map(\.warninglists) == [["tor-exits"]])
    }

    @Test func aUserListReplacesTheShippedOneOfTheSameName() throws {
        let directory = try TemporaryDirectory()
        try directory.write(
            "warninglists/verdict-popular-domains.json",
            #"{"name":"verdict-popular-domains","type":"string","list":["only-this.com"]}"#
        )
        let feeds = try FeedsDirectory(directory: directory.url)
        #expect(feeds.warninglists.filter { $0.name == "verdict-popular-domains" }.count == 1)
        #expect(feeds.suppressor.assess(Indicator(type: .domain, value: "google.com")) == .lookUp(warninglists: []))
    }

    @Test(arguments: [
        ("warninglists/broken.json", "{not json", "broken.json is not a MISP warninglist"),
        (
            "warninglist-policies.json", #"{"no-such-list":"suppress"}"#,
            "names \"no-such-list\", but no warninglist has that name"
        ),
        ("warninglist-policies.json", #"{"url-shortener":"hide"}"#, "must be \"suppress\", \"annotate\" or \"ignore\""),
        ("warninglist-policies.json", "[1]", "must be a JSON object"),
    ])
    func badFilesAreNamedWithTheFix(path: String, content: String, message: String) throws {
        let directory = try TemporaryDirectory()
        try directory.write(path, content)
        #expect {
            try FeedsDirectory(directory: directory.url)
        } throws: { error in
            String(describing: error).contains(message)
        }
    }
}
