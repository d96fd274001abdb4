import Testing

@testable import VerdictCore

struct RefangTests {
    static func found(_ text: String) -> [String] {
        TextExtractor().indicators(in: text).map(\.description)
    }

    /// Every defang style the issue names, each on its own.
    @Test(arguments: [
        ("hxxp://evil-site.com/a", "url:http://evil-site.com/a"),
        ("hXXps://evil-site.com/a", "url:https://evil-site.com/a"),
        ("fxp://files.evil-site.com/a", "url:ftp://files.evil-site.com/a"),
        ("h__p://evil-site.com/a", "url:http://evil-site.com/a"),
        ("hzzzp://evil-site.com/a", "url:http://evil-site.com/a"),
        ("evil-site[.]com", "domain:evil-site.com"),
        ("evil-site(.)com", "domain:evil-site.com"),
        ("evil-site{.}com", "domain:evil-site.com"),
        ("evil-site[dot]com", "domain:evil-site.com"),
        ("evil-site(dot)com", "domain:evil-site.com"),
        ("evil-site{DOT}com", "domain:evil-site.com"),
        ("evil-site [dot] com", "domain:evil-site.com"),
        ("evil-site\\.com", "domain:evil-site.com"),
        ("45[.]95[.]147[.]236", "ipv4:45.95.147.236"),
        ("45[.]95.147 dot 236", "ipv4:45.95.147.236"),
        ("http[:]//evil-site.com/a", "url:http://evil-site.com/a"),
        ("http[://]evil-site.com/a", "url:http://evil-site.com/a"),
        ("hxxps[://]evil-site[.]com/a", "url:https://evil-site.com/a"),
        ("[https]://evil-site.com/a", "url:https://evil-site.com/a"),
        ("(http)://evil-site.com/a", "url:http://evil-site.com/a"),
        ("http ://evil-site.com/a", "url:http://evil-site.com/a"),
        ("http:// evil-site.com/a", "url:http://evil-site.com/a"),
        ("http:///evil-site.com/a", "url:http://evil-site.com/a"),
        ("https:\\/\\/evil-site.com\\/a", "url:https://evil-site.com/a"),
        ("bad[@]evil-site.com", "email:bad@evil-site.com"),
        ("bad[at]evil-site.com", "email:bad@evil-site.com"),
        ("bad(at)evil-site.com", "email:bad@evil-site.com"),
        ("bad {@} evil-site.com", "email:bad@evil-site.com"),
        ("bad AT evil-site dot com", "email:bad@evil-site.com"),
        ("badATevil-site.com", "email:bad@evil-site.com"),
        ("evil[-]site.com", "domain:evil-site.com"),
        ("45.95.147.236[:]8080", "ipv4:45.95.147.236"),
    ])
    func defangStyle(text: String, first: String) {
        #expect(Self.found(text).first == first)
    }

    @Test func spelledOutWordsAloneAreNotTrusted() {
        // Prose like this must not become `the.com`.
        #expect(Self.found("the dot com bubble burst").isEmpty)
        #expect(Self.found("it failed at 0day[.]rocks").contains("domain:0day.rocks"))
        #expect(!Self.found("it failed at 0day[.]rocks").contains { $0.hasPrefix("email:") })
    }

    @Test func wordsThatOnlyLookLikeDefangsStayAsTheyAre() {
        #expect(Self.found("fooMATbar.com") == ["domain:foomatbar.com"])
        #expect(Self.found("foodotcom").isEmpty)
        #expect(Self.found("habcp://www.evil-site.com/") == ["domain:www.evil-site.com"])
        #expect(
            Self.found("http://accounts.dot-example.online") == [
                "url:http://accounts.dot-example.online", "domain:accounts.dot-example.online",
            ]
        )
    }

    @Test func refangedBytesAreMarked() {
        let text = RefangedText(refanging: Array("a[.]b dot c".utf8))
        #expect(String(decoding: text.bytes, as: UTF8.self) == "a.b.c")
        #expect(text.marked.map(\.position) == [1, 3])
        #expect(text.marked.map(\.mark) == [.defanged, .spelledOut])
        #expect(text.marks(0, 1) == (false, false))
        #expect(text.marks(0, 2) == (true, false))
        #expect(text.marks(2, 5) == (false, true))
        #expect(text.marks(0, 5) == (true, true))
    }

    /// Marks are kept one bit a byte in 64-bit words: ranges that start, end or lie at a word's edges, or span
    /// several words, must see exactly the marks inside them.
    @Test func marksAtTheEdgesOfBitWords() {
        // `[.]` lands at byte 63 once refanged, ` dot ` at byte 128 and `[at]` at byte 200.
        let input =
            String(repeating: "a", count: 63) + "[.]" + String(repeating: "b", count: 64) + " dot "
            + String(repeating: "c", count: 71) + "[at]d"
        let text = RefangedText(refanging: Array(input.utf8))
        #expect(text.marked.map(\.position) == [63, 128, 200])
        for start in 0..<text.bytes.count {
            for end in (start + 1)...text.bytes.count {
                let inside = text.marked.filter { (start..<end).contains($0.position) }
                let expected = (inside.contains { $0.mark == .defanged }, inside.contains { $0.mark == .spelledOut })
                #expect(text.marks(start, end) == expected, "\(start)..<\(end)")
            }
        }
        #expect(text.marks(5, 5) == (false, false))
    }

    /// Every spelling of a scheme, read in place as the refanger and the URL parser read it.
    @Test(
        arguments: [
            ("http", "http", false), ("HTTPS", "https", false), ("ftp", "ftp", false), ("FtPs", "ftps", false),
            ("sftp", "sftp", false), ("hxxp", "http", true), ("hXXps", "https", true), ("h__p", "http", true),
            ("h**ps", "https", true), ("hzzzp", "http", true), ("htttp", "http", true), ("fxp", "ftp", true),
            ("FXPS", "ftps", true), ("hxp", nil, false), ("hxxxxp", nil, false), ("hxyp", nil, false),
            ("httpx", nil, false), ("fxpss", nil, false), ("sfxp", nil, false), ("xxp", nil, false),
            ("ssh", nil, false),
        ] as [(String, String?, Bool)]
    )
    func schemeSpellings(word: String, scheme: String?, defanged: Bool) {
        Array(word.utf8).withUnsafeBufferPointer { bytes in
            let read = URLScheme.reading(bytes[...])
            #expect(read.map { "\($0.0.name)" } == scheme, "\(word)")
            #expect(read?.defanged ?? false == defanged, "\(word)")
            #expect((URLScheme(spelling: bytes[...]) != nil) == (scheme != nil && !defanged), "\(word)")
        }
    }
}
