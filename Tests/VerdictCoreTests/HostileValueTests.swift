import Testing
import VerdictCore

/// Values shaped to leak, mislead or spend quota: credentials inside URLs, bidirectional overrides, URLs
/// longer than any provider takes.
struct HostileValueTests {
    /// Extraction reports a URL as written (other tools' tests expect the credentials kept); what is looked up,
    /// cached and written into events is the URL without them.
    @Test func credentialsInAURLAreDroppedForTheLookup() throws {
        let text = "mounted http://admin:Winter2024!@files.evil-updates.com/share/drop.zip"
        let found = IndicatorExtractor().extract(text: text).indicators.map(\.indicator)
        let written = Indicator(type: .url, value: "http://admin:Winter2024!@files.evil-updates.com/share/drop.zip")
        #expect(found.contains(written))
        #expect(
            written.withoutCredentials == Indicator(type: .url, value: "http://files.evil-updates.com/share/drop.zip")
        )
        let given = try IndicatorParser.parse("https://user:secret@evil-updates.com:8443/login?next=a@b")
        #expect(
            given.withoutCredentials == Indicator(type: .url, value: "https://evil-updates.com:8443/login?next=a@b")
        )
        let plain = Indicator(type: .url, value: "https://evil-updates.com/a@b")
        #expect(plain.withoutCredentials == plain, "an @ in the path is not userinfo")
    }

    @Test func aBidirectionalOverrideIsNotLookedUpAsItsPrefix() throws {
        let disguised = "http://evil-updates.com/invoice\u{202E}fdp.exe"
        #expect(throws: InvalidIndicator.self) { try IndicatorParser.parse(disguised) }
        let found = IndicatorExtractor().extract(text: "see \(disguised) now").indicators.map(\.indicator)
        #expect(!found.contains { $0.type == .url }, "no URL that reads differently than it is: \(found)")
        #expect(found.contains(Indicator(type: .domain, value: "evil-updates.com")), "its host is still one")
    }

    @Test func urlsLongerThanProvidersTakeAreSuppressedNotSent() throws {
        let long = try IndicatorParser.parse("http://evil-updates.com/" + String(repeating: "a", count: 3000))
        #expect(Suppressor().assess(long) == .suppressed(reason: "too-long"))
        let limit = "http://evil-updates.com/" + String(repeating: "a", count: 2048 - 24)
        #expect(limit.utf8.count == 2048)
        #expect(Suppressor().assess(try IndicatorParser.parse(limit)) != .suppressed(reason: "too-long"))
        let extracted = IndicatorExtractor().extract(text: long.value)
        #expect(extracted.suppressed.contains { $0.indicator == long && $0.reason == "too-long" })
    }
}
