import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VerdictServer
import VerdictStore
import VerdictTestSupport

/// The page at `/` in a real headless Chromium against a live server: results, warnings, and invalid lines
/// named by the line they are on.
struct PageTests {
    @Test(.enabled(if: BrowserSession.chromedriverPath != nil, Comment(rawValue: BrowserSession.missing)))
    func thePageLooksUpShowsWarningsAndNamesBadLinesByNumber() async throws {
        try await ServerHarness.with { harness, _ in
            let key = try await harness.key(plan: .professional)
            try await harness.application().test(.live) { client in
                let port = try #require(client.port)
                try await BrowserSession.with { browser in
                    try await browser.open("http://127.0.0.1:\(port)/")
                    try await browser.type(key, into: "#key")
                    try await browser.type("185.220.101[.]4\n\nlogin-micros0ft-support.com", into: "#indicators")
                    try await browser.click("button[type=submit]")
                    let shown = try await browser.waitFor(
                        "return document.querySelectorAll('.result').length == 2 ? document.getElementById('out').innerText : '';"
                    )
                    #expect(shown.contains("185.220.101.4 (ipv4): malicious"), "\(shown)")
                    #expect(shown.contains("login-micros0ft-support.com (domain): unknown"), "\(shown)")
                    let warning = try await browser.waitFor(
                        "const w = document.querySelector('.warning'); return w ? w.innerText : '';"
                    )
                    #expect(warning.contains("do not look up domain"), "\(warning)")
                    #expect(warning.contains("VERDICT_VIRUSTOTAL_API_KEY"))
                    let status = try await browser.evaluate("return document.getElementById('status').innerText;")
                    #expect((status as? String)?.contains("credits charged 3") == true, "\(status ?? "")")

                    // The sixth line is the bad one, blank lines included.
                    try await browser.type("185.220.101.4\n\n\n\n\nnot-an-indicator", into: "#indicators")
                    try await browser.click("button[type=submit]")
                    let error = try await browser.waitFor(
                        "const e = document.querySelector('ul.error'); return e ? e.innerText : '';"
                    )
                    #expect(error.contains("line 6: \"not-an-indicator\""), "\(error)")

                    // Everything above ran under the page's Content-Security-Policy; links from answers are web
                    // links only.
                    let links = try await browser.evaluate(
                        "return [safeLink('javascript:alert(1)'), safeLink('data:text/html,x'), safeLink('https://www.virustotal.com/gui/ip-address/1.2.3.4')];"
                    )
                    let shownLinks = (links as? [Any])?.map { $0 as? String }
                    #expect(
                        shownLinks == [nil, nil, "https://www.virustotal.com/gui/ip-address/1.2.3.4"],
                        "\(links ?? "")"
                    )
                }
            }
        }
    }
}
