import Testing
import VerdictCore
import VerdictSources
import VerdictTestSupport

/// Runs one adapter against a mock provider, through a governor as the engine does, so every failure
/// comes back as a per-source status.
enum ProviderHarness {
    static func lookUp(
        _ indicator: Indicator,
        reply: @escaping MockProviderServer.Handler,
        makeSource: (ProviderSettings, ProviderHTTPClient) -> any ThreatIntelSource,
        maxBodyBytes: Int = 4 << 20
    ) async throws -> (result: SourceResult, requests: [MockProviderServer.Request]) {
        try await MockProviderServer.with(reply) { server in
            let http = ProviderHTTPClient(maxBodyBytes: maxBodyBytes, timeout: .seconds(5))
            let source = makeSource(ProviderSettings(apiKey: "test-key-123", baseURL: server.baseURL), http)
            let governor = SourceGovernor(source: source, policy: GovernorPolicy(deadline: .milliseconds(3000)))
            let result = await governor.lookUp(indicator)
            return (result, server.requests)
        }
    }

    /// The failures every provider must survive, with the status and message start each must give.
    static let commonFailures: [(name: String, reply: MockProviderServer.Reply, status: SourceStatus, error: String)] =
        [
            (
                "500 with an HTML page",
                .raw(500, Array("<html>oops</html>".utf8), headers: [("Content-Type", "text/html")]), .error, "HTTP 500"
            ),
            ("a hang", .hang, .error, "timeout after 3000 ms"),
            (
                "a 200 that is not JSON", .raw(200, Array("{\"data\": [truncated".utf8)), .error,
                "answer is not valid JSON"
            ),
            ("a 6 MB body", .raw(200, [UInt8](repeating: 0x20, count: 6 << 20)), .error, "answer larger than 4 MB"),
        ]

    /// Checks that the source survives every one of `commonFailures` with the right status and message.
    static func expectSurvivesCommonFailures(
        _ indicator: Indicator,
        source name: String,
        makeSource: (ProviderSettings, ProviderHTTPClient) -> any ThreatIntelSource
    ) async throws {
        for failure in commonFailures {
            let (result, _) = try await lookUp(indicator, reply: { _ in failure.reply }, makeSource: makeSource)
            #expect(result.status == failure.status, "\(name) \(failure.name)")
            #expect((result.error ?? "").contains(failure.error), "\(name) \(failure.name): \(result.error ?? "nil")")
        }
        try await expectRefusesRedirects(indicator, source: name, makeSource: makeSource)
    }

    /// A provider that redirects (307, https to http or to another host) is an error naming the target; the
    /// other host sees no request, so the key's header never reaches it.
    static func expectRefusesRedirects(
        _ indicator: Indicator,
        source name: String,
        makeSource: (ProviderSettings, ProviderHTTPClient) -> any ThreatIntelSource
    ) async throws {
        let answer: MockProviderServer.Handler = { _ in .json(200, "{}") }
        try await MockProviderServer.with(answer) { elsewhere in
            for status in [301, 302, 307, 308] {
                let (result, requests) = try await lookUp(
                    indicator,
                    reply: { _ in .raw(status, [], headers: [("Location", elsewhere.baseURL + "/steal")]) },
                    makeSource: makeSource
                )
                #expect(requests.count == 1, "\(name) \(status)")
                #expect(result.status == .error, "\(name) \(status)")
                #expect(
                    (result.error ?? "").contains("a redirect to 127.0.0.1"),
                    "\(name) \(status): \(result.error ?? "nil")"
                )
            }
            #expect(elsewhere.requests.isEmpty, "\(name): a redirect was followed with the key")
        }
    }
}
