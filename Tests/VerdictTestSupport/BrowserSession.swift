import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// A real headless Chromium driven through chromedriver's W3C WebDriver protocol, for tests of the page.
/// `.ci/run` installs both (`apt-get install chromium chromium-driver`); `chromedriverPath` is nil where they are
/// missing, and the tests that need it say so.
public final class BrowserSession: @unchecked Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// `VERDICT_CHROMEDRIVER`, else `chromedriver` on PATH.
    public static let chromedriverPath: String? = {
        let environment = ProcessInfo.processInfo.environment
        if let given = environment["VERDICT_CHROMEDRIVER"], !given.isEmpty { return given }
        for folder in (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(folder)/chromedriver"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }()

    public static let missing =
        "chromedriver is not installed (apt-get install chromium chromium-driver, as .ci/run does), so the page is not tested in a browser here"

    let driver = Process()
    let base: URL
    let session: String
    let profile: URL

    private init(driverPort: Int, session: String, profile: URL) {
        base = URL(string: "http://127.0.0.1:\(driverPort)")!
        self.session = session
        self.profile = profile
    }

    /// Where a failed test's screenshot goes: `VERDICT_TEST_SCREENSHOTS`, else `.build/browser-screenshots` of
    /// this checkout (kept out of git), so CI keeps it beside the build.
    public static let screenshotFolder: URL = {
        if let given = ProcessInfo.processInfo.environment["VERDICT_TEST_SCREENSHOTS"], !given.isEmpty {
            return URL(fileURLWithPath: given)
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".build/browser-screenshots")
    }()

    /// Starts chromedriver on a free port and opens a headless browser session; `body` runs with it, and the
    /// browser and the driver are stopped after, whatever happens. The page as it was at the end is saved as
    /// `NAME.png` in `screenshotFolder`; when `body` throws, the error names the file.
    public static func with<T>(
        screenshotName: String = "browser-test",
        _ body: (BrowserSession) async throws -> T
    ) async throws -> T {
        guard let path = chromedriverPath else { throw Failure(description: missing) }
        let port = try LoopbackPort.free()
        let driver = Process()
        driver.executableURL = URL(fileURLWithPath: path)
        driver.arguments = ["--port=\(port)", "--allowed-ips=127.0.0.1"]
        driver.standardOutput = FileHandle.nullDevice
        driver.standardError = FileHandle.nullDevice
        try driver.run()
        defer {
            // chromedriver does not always end on SIGTERM, and Foundation's waitUntilExit spins while it waits.
            kill(driver.processIdentifier, SIGKILL)
            driver.waitUntilExit()
        }
        let base = URL(string: "http://127.0.0.1:\(port)")!
        // Up to 30 s for the driver to listen on a loaded machine.
        var ready = false
        for _ in 0..<300 where !ready {
            ready = (try? await request("GET", base.appendingPathComponent("status"), body: nil)) != nil
            if !ready { try await Task.sleep(for: .milliseconds(100)) }
        }
        guard ready else { throw Failure(description: "chromedriver did not start listening on port \(port)") }
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("verdict-chromium-\(UUID())")
        let capabilities: [String: Any] = [
            "capabilities": [
                "alwaysMatch": [
                    "browserName": "chrome",
                    "goog:chromeOptions": [
                        "args": [
                            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                            "--user-data-dir=\(profile.path)", "--window-size=1280,900",
                        ]
                    ],
                ]
            ]
        ]
        let created = try await request("POST", base.appendingPathComponent("session"), body: capabilities)
        guard let value = created["value"] as? [String: Any], let id = value["sessionId"] as? String else {
            throw Failure(description: "chromedriver opened no session: \(created)")
        }
        let browser = BrowserSession(driverPort: port, session: id, profile: profile)
        // The page's last state is kept after every run: an expectation that failed does not throw, and its
        // screenshot is the one that tells what the page showed.
        let file = screenshotFolder.appendingPathComponent("\(screenshotName).png")
        do {
            let result = try await body(browser)
            try? await browser.screenshot(to: file)
            await browser.close()
            return result
        } catch {
            let saved = (try? await browser.screenshot(to: file)) != nil
            await browser.close()
            throw Failure(description: "\(error)" + (saved ? " (the page: \(file.path))" : ""))
        }
    }

    /// The page as the browser shows it, as a PNG file.
    public func screenshot(to file: URL) async throws {
        guard let encoded = try await command("GET", "screenshot", nil) as? String,
            let png = Data(base64Encoded: encoded)
        else { throw Failure(description: "the driver gave no screenshot") }
        try FileManager.default.createDirectory(
            at: file.deletingLastPathComponent(),
            withIntermediateDirectories: true
        )
        try png.write(to: file)
    }

    /// Loads the page again, as the reload button does.
    public func reload() async throws {
        _ = try await command("POST", "refresh", [:])
    }

    /// Keys sent to the element as a user types them, without clearing it first: `\u{E009}\u{E007}` is
    /// Ctrl+Enter (W3C WebDriver key codes; a modifier holds until the end of the text).
    public func press(_ keys: String, in selector: String) async throws {
        let id = try await element(selector)
        _ = try await command("POST", "element/\(id)/value", ["text": keys])
    }

    /// The text of an open `alert()`, or nil when none is open.
    public func openAlertText() async -> String? {
        (try? await command("GET", "alert/text", nil)) as? String
    }

    /// Moves the browser window to `width` × `height`.
    public func resize(width: Int, height: Int) async throws {
        _ = try await command("POST", "window/rect", ["width": width, "height": height])
    }

    func close() async {
        _ = try? await Self.request("DELETE", base.appendingPathComponent("session/\(session)"), body: nil)
        try? FileManager.default.removeItem(at: profile)
    }

    /// Goes to `url` and waits for the page to load.
    public func open(_ url: String) async throws {
        _ = try await command("POST", "url", ["url": url])
    }

    /// The element the CSS selector names (the first one).
    public func element(_ selector: String) async throws -> String {
        let answer = try await command("POST", "element", ["using": "css selector", "value": selector])
        guard let value = answer as? [String: Any], let id = value.values.first as? String else {
            throw Failure(description: "no element \(selector)")
        }
        return id
    }

    public func type(_ text: String, into selector: String) async throws {
        let id = try await element(selector)
        _ = try await command("POST", "element/\(id)/clear", [:])
        _ = try await command("POST", "element/\(id)/value", ["text": text])
    }

    public func click(_ selector: String) async throws {
        let id = try await element(selector)
        _ = try await command("POST", "element/\(id)/click", [:])
    }

    /// The result of a script run in the page (`return …;`).
    public func evaluate(_ script: String) async throws -> Any? {
        try await command("POST", "execute/sync", ["script": script, "args": []])
    }

    /// Waits until the script returns a non-empty string (or `true`), up to `timeout`; returns it.
    public func waitFor(_ script: String, timeout: Duration = .seconds(30)) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let value = try await evaluate(script)
            if let text = value as? String, !text.isEmpty { return text }
            if let flag = value as? Bool, flag { return "true" }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw Failure(description: "waited \(timeout) for: \(script)")
    }

    func command(_ method: String, _ path: String, _ body: [String: Any]?) async throws -> Any? {
        let answer = try await Self.request(
            method,
            base.appendingPathComponent("session/\(session)/\(path)"),
            body: body
        )
        if let value = answer["value"] as? [String: Any], let error = value["error"] as? String {
            throw Failure(description: "\(path): \(error): \(value["message"] ?? "")")
        }
        return answer["value"]
    }

    static func request(_ method: String, _ url: URL, body: [String: Any]?) async throws -> [String: Any] {
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = .init(rawValue: method)
        if let body {
            request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)))
            request.headers.add(name: "Content-Type", value: "application/json")
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let bytes = try await response.body.collect(upTo: 16 << 20)
        return (try JSONSerialization.jsonObject(with: Data(bytes.readableBytesView)) as? [String: Any]) ?? [:]
    }

}
