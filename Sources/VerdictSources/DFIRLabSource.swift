import Foundation
import NIOHTTP1
import Synchronization
import VerdictCore

/// The hosted DFIR platform (dfir-lab.ch, docs/sources.md): `POST /enrichment/lookup` with `Authorization:
/// Bearer sk-dfir-…`, up to 10 indicators a call. Lookups that arrive together (an alert's indicators, a
/// request's) are sent as one call; its verdict and score are mapped to ours, its per-provider breakdown kept in
/// `details`, and its credits left (`X-Credits-Remaining`) are the provider's quota the shared budget shows.
public final class DFIRLabSource: ThreatIntelSource {
    public let name = "dfirlab"
    /// IPv4 only, as its documentation says.
    public let supportedTypes: Set<IndicatorType> = [.ipv4, .domain, .url, .email, .md5, .sha1, .sha256]
    public let isExternal = true
    public let settings: ProviderSettings
    let http: ProviderHTTPClient
    let batcher: LookupBatcher<Answer>

    public static let defaultBaseURL = "https://dfir-lab.ch/api/v1"
    /// How long a lookup waits for others to share its call.
    static let gatherWindow: Duration = .milliseconds(15)

    /// One indicator's part of a call's answer, with what the call said of the credits.
    struct Answer: Sendable {
        var result: JSONValue
        var quota: ProviderQuota?
    }

    public init(settings: ProviderSettings, http: ProviderHTTPClient = ProviderHTTPClient()) {
        self.settings = settings
        self.http = http
        let name = name
        batcher = LookupBatcher(size: DFIRPlatform.maxIndicators, window: Self.gatherWindow) { indicators in
            try await Self.send(indicators, source: name, settings: settings, http: http)
        }
    }

    public var settingsFingerprint: String { settings.fingerprint }

    public func lookUp(_ indicator: Indicator) async throws -> SourceResult {
        let answer = try await batcher.submit(indicator)
        let verdict = DFIRPlatform.verdict(answer.result["verdict"]?.scalarText)
        let score = min(100, max(0, answer.result["score"]?.intValue ?? 0))
        var providers: [(key: String, value: JSONValue)] = []
        if case .object(let members)? = answer.result["providers"] { providers = members }
        let flagging = providers.filter {
            [.malicious, .suspicious].contains(DFIRPlatform.verdict($0.value["verdict"]?.scalarText))
        }.map(\.key)
        var result: SourceResult
        switch verdict {
        case .malicious, .suspicious:
            result = .found(
                name,
                verdict: verdict,
                score: score,
                evidence: "\(verdict.rawValue) (\(flagging.joined(separator: ", ")))",
                categories: flagging
            )
        case .harmless:
            result = .found(name, verdict: .harmless, score: 0, evidence: "clean")
        default:
            // No provider of the platform knows it.
            var unknown = SourceResult.notFound(name)
            unknown.providerQuota = answer.quota
            return unknown
        }
        result.details = .object([("providers", .object(providers))])
        result.providerQuota = answer.quota
        return result
    }

    /// One call for `indicators`; an answer per indicator, in order.
    static func send(_ indicators: [Indicator], source: String, settings: ProviderSettings, http: ProviderHTTPClient)
        async throws -> [Answer]
    {
        let body = JSONValue.object([
            (
                "indicators",
                .array(
                    indicators.map {
                        .object([("type", .string(DFIRPlatform.type(of: $0.type))), ("value", .string($0.value))])
                    }
                )
            )
        ])
        var writer = JSONWriter()
        writer.value(body)
        let response = try await http.send(
            source: source,
            method: .POST,
            url: "\(settings.baseURL)/enrichment/lookup",
            headers: [
                ("Authorization", "Bearer \(settings.apiKey ?? "")"), ("Content-Type", "application/json"),
                ("Accept", "application/json"),
            ],
            body: writer.bytes
        )
        // Its errors are `{"error": {"type", "code", "message"}}`, or a bare string in older answers.
        let message = response.json?["error"]?["message"]?.scalarText ?? response.json?["error"]?.scalarText
        if response.status == 402 {
            // Out of credits until the platform's month turns: a quota, not a failure of the source.
            throw SourceError.rateLimited(
                retryAfter: response.retryAfter() ?? .seconds(3600),
                "\(source): out of credits (HTTP 402)\(message.map { " (\($0.prefix(200)))" } ?? "")"
            )
        }
        try response.requireOK(source: source, providerMessage: message)
        let document = try response.jsonObject(source: source)
        guard let results = document["data"]?["results"]?.arrayValue, results.count == indicators.count else {
            throw SourceError.malformed("\(source): answer has no data.results with one result per indicator")
        }
        let credits =
            response.header("X-Credits-Remaining").flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            ?? document["meta"]?["credits_remaining"]?.intValue
        let quota =
            credits.map { ProviderQuota(limit: nil, remaining: $0, resetsAt: Self.nextMonth()) }
            ?? response.statedQuota()
        return results.map { Answer(result: $0, quota: quota) }
    }

    /// When the platform's monthly credits are next given (the start of the next month, UTC).
    static func nextMonth(after date: Date = Date()) -> Double {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let start = calendar.dateInterval(of: .month, for: date)?.end ?? date.addingTimeInterval(30 * 86_400)
        return start.timeIntervalSince1970
    }
}

/// Gathers lookups that arrive within `window` into calls of at most `size`, so that a provider that answers
/// many values a call is asked once for them; each caller gets its own part, or the call's error.
final class LookupBatcher<Answer: Sendable>: Sendable {
    struct Waiter {
        let indicator: Indicator
        let continuation: CheckedContinuation<Answer, any Error>
    }

    let size: Int
    let window: Duration
    let send: @Sendable ([Indicator]) async throws -> [Answer]
    private let pending = Mutex<(waiting: [Waiter], timerSet: Bool)>(([], false))

    init(size: Int, window: Duration, send: @escaping @Sendable ([Indicator]) async throws -> [Answer]) {
        self.size = size
        self.window = window
        self.send = send
    }

    func submit(_ indicator: Indicator) async throws -> Answer {
        try await withCheckedThrowingContinuation { continuation in
            let (full, startTimer) = pending.withLock { state -> ([Waiter]?, Bool) in
                state.waiting.append(Waiter(indicator: indicator, continuation: continuation))
                if state.waiting.count >= size {
                    defer { state.waiting = [] }
                    return (state.waiting, false)
                }
                guard !state.timerSet else { return (nil, false) }
                state.timerSet = true
                return (nil, true)
            }
            if let full {
                Task { await self.call(full) }
            } else if startTimer {
                Task {
                    try? await Task.sleep(for: self.window)
                    let due = self.pending.withLock { state -> [Waiter] in
                        defer { state = ([], false) }
                        return state.waiting
                    }
                    if !due.isEmpty { await self.call(due) }
                }
            }
        }
    }

    func call(_ batch: [Waiter]) async {
        do {
            let answers = try await send(batch.map(\.indicator))
            for (waiter, answer) in zip(batch, answers) { waiter.continuation.resume(returning: answer) }
        } catch {
            for waiter in batch { waiter.continuation.resume(throwing: error) }
        }
    }
}
