import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing
import VerdictTestSupport

/// The console at `/` in a real headless Chromium (over W3C WebDriver) against a real `verdict serve` whose
/// sources are mock providers on 127.0.0.1 answering in their real shapes.
@Suite(.enabled(if: BrowserSession.chromedriverPath != nil, Comment(rawValue: BrowserSession.missing)))
struct ConsoleBrowserTests {
    /// What a hostile provider or feed could put in an answer: it must show as text and run nothing.
    static let hostile = #""><img src=x onerror=alert(1)>"#

    /// AbuseIPDB: 185.220.101.4 is reported (malicious), 45.155.205.99 makes it fail (500), the rest are clean.
    static let abuseIPDB: MockProviderServer.Handler = { request in
        if request.uri.contains("ipAddress=45.155.205.99") {
            return .json(500, #"{"errors":[{"detail":"Internal server error","status":500}]}"#)
        }
        if request.uri.contains("ipAddress=185.220.101.4") { return .json(200, LookupCommandTests.abuseIPDBAnswer) }
        let address = request.uri.split(separator: "ipAddress=").last?.split(separator: "&").first ?? ""
        return .json(
            200,
            #"{"data":{"ipAddress":"\#(address)","isPublic":true,"isWhitelisted":false,"abuseConfidenceScore":0,"totalReports":0,"numDistinctUsers":0,"lastReportedAt":null,"isTor":false,"reports":[]}}"#
        )
    }

    /// ThreatFox lists the phishing domain, with a threat type a hostile submitter chose.
    static let threatFox: MockProviderServer.Handler = { request in
        guard request.bodyText.contains("login-micros0ft-support.com") else {
            return .json(200, #"{"query_status":"no_result","data":"Your search did not yield any results"}"#)
        }
        let threat = hostile.replacingOccurrences(of: "\"", with: "\\\"")
        return .json(
            200,
            #"{"query_status":"ok","data":[{"id":"1234567","ioc":"login-micros0ft-support.com","threat_type":"\#(threat)","threat_type_desc":"x","ioc_type":"domain","ioc_type_desc":"Domain","malware":"win.lumma","malware_printable":"Lumma Stealer","malware_alias":null,"malware_malpedia":"https://malpedia.caad.fkie.fraunhofer.de/details/win.lumma","confidence_level":90,"first_seen":"2026-11-28 10:12:33 UTC","last_seen":null,"reference":null,"reporter":"abuse_ch","tags":["Lumma"]}]}"#
        )
    }

    /// A running server with both mocks, a key of `credits` a month, and a browser on its console.
    static func withConsole(
        _ name: String,
        credits: Int = 500,
        settings: String = "",
        _ body: (BrowserSession, _ base: String, _ key: String) async throws -> Void
    ) async throws {
        let directory = ServeCommandTests.dataDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let config = directory + "/verdict.yaml"
        try settings.write(toFile: config, atomically: true, encoding: .utf8)
        try await MockProviderServer.with(abuseIPDB) { abuse in
            try await MockProviderServer.with(threatFox) { fox in
                let environment = [
                    "VERDICT_DATA_DIR": directory, "VERDICT_CONFIG": config, "VERDICT_INTERNETDB_ENABLED": "false",
                    "VERDICT_ABUSEIPDB_API_KEY": "abuse-secret-key-42", "VERDICT_ABUSEIPDB_URL": abuse.baseURL,
                    "VERDICT_THREATFOX_API_KEY": "fox-secret-key-42", "VERDICT_THREATFOX_URL": fox.baseURL,
                ]
                let created = try await ExtractCommandTests.run(
                    ["keys", "create", "--name", "soc1", "--plan", "starter", "--credits", String(credits)],
                    environment: environment
                )
                #expect(created.status == 0, "\(created.errors)")
                let key = created.output.split(separator: "\n").last.map(String.init) ?? ""
                let server = try VerdictServeProcess(["serve", "--port", "0"], environment: environment)
                defer { server.stop() }
                let base = "http://127.0.0.1:\(try await server.port())"
                try await BrowserSession.with(screenshotName: name) { browser in
                    try await browser.open(base + "/")
                    try await body(browser, base, key)
                }
            }
        }
    }

    static let alert = #"""
        {"timestamp":"2026-12-01T18:33:12.000+0000","rule":{"level":10,"description":"sshd: authentication failed.","id":"5760","groups":["syslog","sshd","authentication_failed"]},"agent":{"id":"001","name":"web-01","ip":"10.0.2.15"},"manager":{"name":"wazuh-manager"},"id":"1764613992.1","full_log":"Dec  1 18:33:12 web-01 sshd[811]: Failed password for root from 185.220.101.4 port 51514 ssh2; then GET http://login-micros0ft-support.com/verify from 45.83.64.12","decoder":{"name":"sshd"},"data":{"srcip":"185.220.101.4","dstip":"10.0.2.15","srcuser":"root","url":"http://login-micros0ft-support.com/verify\"><img src=x onerror=alert(1)>"},"location":"/var/log/auth.log"}
        """#

    static func creditsUsed(_ base: String, key: String) async throws -> String {
        var request = HTTPClientRequest(url: base + "/v1/usage")
        request.headers.add(name: "Authorization", value: "Bearer \(key)")
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let body = String(buffer: try await response.body.collect(upTo: 1 << 20))
        return body.components(separatedBy: #""used":"#).dropFirst().first?.prefix(while: \.isNumber).description
            ?? body
    }

    @Test func anAlertIsExtractedThenLookedUpWorstFirstAndTheHistorySurvivesAReload() async throws {
        try await Self.withConsole("console-alert-lookup-history") { browser, base, key in
            try await browser.type(key, into: "#key")
            try await browser.type(Self.alert, into: "#input")
            try await browser.click("#extract")
            let preview = try await browser.waitFor(
                "const p = document.getElementById('preview'); return p.querySelectorAll('li.planned').length >= 3 ? p.innerText : '';"
            )
            #expect(preview.contains("185.220.101.4 (ipv4) from data.srcip"), "\(preview)")
            #expect(preview.contains("http://login-micros0ft-support.com/verify (url) from data.url"), "\(preview)")
            #expect(preview.contains("10.0.2.15 (ipv4): private"), "the private address is left out, with why")
            #expect(try await Self.creditsUsed(base, key: key) == "0", "nothing is spent before the lookup")

            // Ctrl+Enter in the text box looks up.
            try await browser.press("\u{E009}\u{E007}", in: "#input")
            let order = try await browser.waitFor(
                """
                const cards = [...document.querySelectorAll('#results .card')];
                return cards.length >= 3 ? cards.map(c => c.dataset.verdict + ' ' + c.dataset.score + ' ' + c.dataset.value).join('\\n') : '';
                """
            )
            let cards = order.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
            let severity = ["malicious", "suspicious", "unknown", "harmless", "suppressed"]
            // Ranks as one number: the verdict's place first, then the score, highest first.
            let ranks = cards.map { (severity.firstIndex(of: $0[0]) ?? 9) * 1000 + (100 - (Int($0[1]) ?? 0)) }
            #expect(ranks == ranks.sorted(), "worst first, then by score: \(cards)")
            #expect(cards.first?[0] == "malicious", "\(cards)")
            #expect(cards.contains { $0[2] == "185.220.101.4" && $0[0] == "malicious" }, "\(cards)")
            #expect(cards.contains { $0[2] == "login-micros0ft-support.com" && $0[0] == "malicious" }, "\(cards)")
            #expect(cards.contains { $0[2] == "45.83.64.12" && $0[0] != "malicious" }, "the clean address: \(cards)")
            let status = try await browser.evaluate("return document.getElementById('status').innerText;") as? String
            #expect(status?.contains("credits charged") == true, "\(status ?? "")")
            #expect(try await Self.creditsUsed(base, key: key) != "0")

            // The hostile URL in the alert and the hostile threat type in ThreatFox's answer are shown as text:
            // no element made of them, nothing ran.
            let card = try await browser.evaluate(
                "return [...document.querySelectorAll('#results .card')].find(c => c.dataset.value === 'login-micros0ft-support.com').innerText;"
            )
            #expect((card as? String)?.contains(Self.hostile) == true, "\(card ?? "")")
            let images = try await browser.evaluate("return document.querySelectorAll('img').length;")
            #expect((images as? Int) == 0)
            #expect(await browser.openAlertText() == nil, "no script from an answer ran")

            // Filters, defanging and the CSV export.
            try await browser.click("#filters [data-filter=harmless]")
            let shown = try await browser.evaluate(
                "return [...document.querySelectorAll('#results .card')].filter(c => !c.hidden).map(c => c.dataset.verdict);"
            )
            #expect((shown as? [String])?.allSatisfy { $0 == "harmless" } == true, "\(shown ?? "")")
            try await browser.click("#filters [data-filter=all]")
            let defanged = try await browser.evaluate(
                "return [defang('url', 'http://login-micros0ft-support.com/verify.php'), defang('ipv4', '185.220.101.4'), defang('email', 'a@b.com')];"
            )
            #expect(
                (defanged as? [String])
                    == ["hxxp://login-micros0ft-support[.]com/verify.php", "185[.]220[.]101[.]4", "a[@]b[.]com"]
            )
            let table = try await browser.evaluate("return csv(state.results);") as? String
            let rows = table?.split(separator: "\r\n").map(String.init) ?? []
            #expect(rows.first?.hasPrefix("type,value,verdict,score") == true, "\(rows)")
            #expect(rows.count == cards.count + 1, "a row per indicator: \(rows)")
            #expect(rows.contains { $0.hasPrefix("ipv4,185.220.101.4,malicious,") }, "\(rows)")

            // "Ask again" for one indicator asks its sources again.
            try await browser.click("#results .card .again")
            _ = try await browser.waitFor(
                "return document.getElementById('status').innerText.startsWith('asked again') ? 'yes' : '';"
            )

            // The history is in the store: a reload shows it, and a click shows its cards again.
            try await browser.reload()
            let history = try await browser.waitFor(
                "const h = document.querySelector('#history li button'); return h ? h.innerText : '';"
            )
            #expect(history.lowercased().contains("malicious"), "\(history)")
            #expect(
                try await browser.evaluate("return document.getElementById('key').value;") as? String == key,
                "the key stays for this tab"
            )
            try await browser.click("#history li:last-child button")
            let again = try await browser.waitFor(
                "const c = document.querySelectorAll('#results .card'); return c.length >= 3 ? c[0].dataset.value : '';"
            )
            #expect(again == cards.first?[2], "the first lookup's cards, in the same order")
            let sources = try await browser.waitFor(
                "const r = document.querySelector('#sources tr[data-source=abuseipdb]'); return r ? r.innerText : '';"
            )
            #expect(sources.contains("on"), "\(sources)")
            let off = try await browser.evaluate(
                "return document.querySelector('#sources li[data-source=virustotal]').textContent;"
            )
            #expect(
                (off as? String)?.contains("VERDICT_VIRUSTOTAL_API_KEY") == true,
                "an off source says why: \(off ?? "")"
            )
        }
    }

    @Test func aBadKeyAndSpentCreditsAreSaidInWords() async throws {
        try await Self.withConsole("console-errors", credits: 3) { browser, _, key in
            try await browser.type("vk_" + String(repeating: "x", count: 40), into: "#key")
            try await browser.type("185.220.101.4", into: "#input")
            try await browser.click("#lookup")
            let refused = try await browser.waitFor("return document.getElementById('message').innerText;")
            #expect(refused.contains("The API key was not accepted (401)"), "\(refused)")
            #expect(refused.contains("verdict keys create"))

            try await browser.type(key, into: "#key")
            // A list with a line that is no indicator: that line is named by its number, the rest goes on.
            try await browser.type("185.220.101.4\n\n\n\n\nnot-an-indicator", into: "#input")
            try await browser.click("#extract")
            let preview = try await browser.waitFor(
                "const p = document.getElementById('preview'); return p.innerText.includes('Not indicators') ? p.innerText : '';"
            )
            #expect(preview.contains("line 6: \"not-an-indicator\""), "\(preview)")
            #expect(preview.contains("1 to look up"), "\(preview)")
            try await browser.type("185.220.101.4", into: "#input")
            try await browser.click("#lookup")
            _ = try await browser.waitFor("return document.querySelectorAll('#results .card').length == 1;")
            // Three credits a month, spent: a new value is refused, with what is left and what to do.
            try await browser.type("91.92.240.10\n45.155.205.233", into: "#input")
            try await browser.click("#lookup")
            let spent = try await browser.waitFor(
                "const m = document.getElementById('message').innerText; return m.includes('402') ? m : '';"
            )
            #expect(spent.contains("Not enough credits (402)"), "\(spent)")
            #expect(spent.contains("has 0 left this month"), "\(spent)")
            #expect(spent.contains("Nothing was looked up or charged"))
        }
    }

    @Test func theSourcePanelShowsAnOpenCircuit() async throws {
        let settings = "abuseipdb:\n  failure_threshold: 1\n  open_seconds: 600\n"
        try await Self.withConsole("console-open-circuit", settings: settings) { browser, _, key in
            try await browser.type(key, into: "#key")
            try await browser.type("45.155.205.99", into: "#input")
            try await browser.click("#lookup")
            _ = try await browser.waitFor("return document.querySelectorAll('#results .card').length == 1;")
            let row = try await browser.waitFor(
                "const r = document.querySelector('#sources tr[data-source=abuseipdb]'); return r && r.innerText.includes('open') ? r.innerText : '';"
            )
            #expect(row.contains("circuit open"), "\(row)")

            // Accessible basics: every field has a label, every button a name; nothing scrolls sideways at a
            // laptop's width or at 1280 px.
            let unlabeled = try await browser.evaluate(
                "return [...document.querySelectorAll('input, textarea')].filter(e => e.labels.length === 0).map(e => e.id);"
            )
            #expect((unlabeled as? [Any])?.isEmpty == true, "\(unlabeled ?? "")")
            let unnamed = try await browser.evaluate(
                "return [...document.querySelectorAll('button')].filter(b => !b.textContent.trim()).length;"
            )
            #expect((unnamed as? Int) == 0)
            for (width, height) in [(1280, 800), (1366, 768), (1024, 700)] {
                try await browser.resize(width: width, height: height)
                let fits = try await browser.evaluate(
                    "return document.documentElement.scrollWidth <= document.documentElement.clientWidth;"
                )
                #expect((fits as? Bool) == true, "\(width) px wide")
            }
            let card = try await browser.evaluate("return document.querySelector('#results .card').innerText;")
            #expect((card as? String)?.contains("abuseipdb") == true)
        }
    }
}
