import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization
import VerdictCore
import VerdictEngine
import VerdictSources
import VerdictStore

/// `POST /v1/enrichment/lookup` and `GET /v1/usage`: the lookups, their credits and the caller's figures.
struct LookupController: Sendable {
    let engine: EnrichmentEngine
    let accounts: any AccountStore
    let usage: UsageRecorder
    let metrics: ServerMetrics
    let settings: ServerSettings
    /// Configured-off sources and why, so a request that names one is told.
    let offSources: [String: String]
    let history: HistoryController
    let creditsLeft = CreditsLeftMemo()

    /// docs/contracts.md §2: per indicator that at least one outside source answered.
    static let creditsPerIndicator = 3

    /// What one lookup request came to: the reports in request order, the credits charged and left, warnings.
    struct Outcome {
        var reports: [IndicatorReport]
        /// The reports as the answer's `results` array (JSON), written once for the answer and the history.
        var results: String
        var charged: Int
        var remaining: Int?
        var warnings: [String]
    }

    func lookup(_ request: Request, context: ServerRequestContext) async throws -> Response {
        guard let key = context.apiKey else { throw KeyAuthenticator.unknownKey() }
        try Self.requireJSON(request.headers)
        let body = try await Self.collectBody(request, limit: settings.maxBodyBytes, timeout: settings.bodyTimeout)
        let lookup = try LookupRequest.parse(body, maxIndicators: settings.maxIndicators, offSources: offSources)
        let outcome = try await perform(lookup, key: key, context: context)

        var writer = JSONWriter()
        writer.reserveCapacity(256 + outcome.results.utf8.count)
        writer.raw("{\"request_id\":")
        writer.string(context.requestID)
        writer.raw(",\"credits\":{\"charged\":")
        writer.raw(String(outcome.charged))
        writer.raw(",\"remaining\":")
        writer.raw(outcome.remaining.map(String.init) ?? "null")
        writer.raw("},\"results\":")
        writer.raw(outcome.results)
        if !outcome.warnings.isEmpty {
            writer.raw(",\"warnings\":")
            writer.value(.array(outcome.warnings.map(JSONValue.string)))
        }
        writer.raw("}")
        return Response.json(bytes: writer.bytes)
    }

    /// Reserves the credits, looks the values up, settles, counts and keeps the lookup in the key's history: what
    /// every lookup route does, whatever shape its request and answer have.
    func perform(_ lookup: LookupRequest, key: APIKey, context: ServerRequestContext) async throws -> Outcome {
        // Credits are held for every distinct indicator that would reach an outside source, before any does.
        var distinct: [Indicator] = []
        var seen = Set<Indicator>()
        for item in lookup.items {
            let indicator = item.indicator.withoutCredentials  // as the engine looks it up
            if seen.insert(indicator).inserted { distinct.append(indicator) }
        }
        // Not sharing the cache between keys: a value this key never asked is new to it, whoever else asked
        // it (shown as not cached, and paid for if an outside source's answer is in it).
        var newToKey = Set<Indicator>()
        var ownSince: [Indicator: Date] = [:]
        if !settings.shareCacheBetweenKeys {
            do {
                ownSince = try await accounts.ownLookups(keyID: key.id, of: distinct)
            } catch {
                throw APIError.storeUnavailable()
            }
            for indicator in distinct
            where ownSince[indicator] == nil && engine.canAskOutside(indicator, sources: lookup.sources) {
                newToKey.insert(indicator)
            }
        }
        var needing = 0
        for indicator in distinct {
            if newToKey.contains(indicator) {
                needing += 1
            } else if await engine.needsExternalLookup(indicator, sources: lookup.sources, refresh: lookup.refresh) {
                needing += 1
            }
        }
        var reservation: CreditReservation?
        var remaining: Int?
        if needing > 0 {
            let outcome: ReservationOutcome
            do {
                outcome = try await accounts.reserveCredits(
                    keyID: key.id,
                    amount: needing * Self.creditsPerIndicator,
                    at: Date()
                )
            } catch {
                throw APIError.storeUnavailable()
            }
            switch outcome {
            case .reserved(let held, let left):
                reservation = held
                remaining = left
            case .keyRevoked:
                throw KeyAuthenticator.unknownKey()
            case .insufficient(let required, let left):
                creditsLeft.remember(left, for: key.id)
                throw APIError(
                    APIError.paymentRequired,
                    code: "insufficient_credits",
                    message:
                        "this lookup needs \(required) credits (\(Self.creditsPerIndicator) per indicator not in the cache) and key \(key.name) has \(left) left this month; nothing was looked up or charged. Wait for next month, ask for more credits, or send fewer new indicators",
                    fields: [("required", .number(String(required))), ("remaining", .number(String(left)))]
                )
            }
        }

        let clock = ContinuousClock()
        let started = clock.now
        var reports: [IndicatorReport]
        if needing == 0 {
            // Cache, suppression and local feeds only: nothing can hang, and a timer per request would hold
            // memory until it fires (a cancelled Task.sleep keeps its timer), so no deadline is armed.
            reports = await engine.lookUp(lookup.items, sources: lookup.sources, refresh: lookup.refresh)
        } else {
            // The lookup is not tied to the caller's deadline: past it the caller gets 504, the sources still
            // answer within their own deadlines and fill the cache, and what reached them is charged then.
            // Otherwise a retry would get those answers from the cache for free.
            let engine = engine
            let lookingUp = Task { await engine.lookUp(lookup.items, sources: lookup.sources, refresh: lookup.refresh) }
            do {
                reports = try await withDeadline(settings.requestTimeout) { await lookingUp.value }
            } catch {
                if let reservation {
                    let controller = self
                    let (newToKey, ownSince) = (newToKey, ownSince)
                    let sharing = settings.shareCacheBetweenKeys
                    Task {
                        var late = await lookingUp.value
                        if !sharing {
                            late = controller.ownView(of: late, newToKey: newToKey, ownSince: ownSince)
                            await controller.recordOwnLookups(late, key: key, context: context)
                        }
                        let charged = min(Self.charge(for: late), reservation.amount)
                        await controller.settleOrRetry(reservation, charged: charged, context: context)
                    }
                }
                throw APIError(
                    .gatewayTimeout,
                    code: "lookup_timeout",
                    message:
                        "the lookup took longer than \(settings.requestTimeout.milliseconds) ms. It goes on: what the sources answer is cached, and charged only if an outside source answers. Retry in a few seconds, or ask fewer sources"
                )
            }
        }
        metrics.recordLookup(reports, duration: clock.now - started)
        if !settings.shareCacheBetweenKeys {
            reports = ownView(of: reports, newToKey: newToKey, ownSince: ownSince)
            await recordOwnLookups(reports, key: key, context: context)
        }

        let answered = Self.answered(in: reports)
        var charged = 0
        if let reservation {
            charged = min(answered.count * Self.creditsPerIndicator, reservation.amount)
            do {
                remaining = try await settle(reservation, charged: charged, context: context)
            } catch {
                // The store failed after the lookups ran: the answer is still given, with the credits held, and
                // the settlement is tried again in the background until it is written.
                context.logger.error(
                    "could not settle a credit reservation; trying again in the background",
                    metadata: ["verdict.key.name": "\(key.name)", "error.message": "\(error)"]
                )
                retrySettlement(reservation, charged: charged, context: context)
                charged = reservation.amount
            }
        } else {
            remaining = await creditsLeft.value(for: key, accounts: accounts)
        }

        var counters = UsageCounters(lookups: reports.count, upstreamLookups: answered.count)
        for report in reports {
            if report.verdict == .suppressed {
                counters.suppressed += 1
            } else if report.cached {
                counters.cacheHits += 1
            }
        }
        usage.add(counters, keyID: key.id, at: Date())

        var results = JSONWriter()
        results.reserveCapacity(768 * reports.count)
        results.value(.array(reports.map(\.jsonValue)))
        let resultsText = results.text
        await history.record(reports, results: resultsText, charged: charged, key: key, context: context)
        return Outcome(
            reports: reports,
            results: resultsText,
            charged: charged,
            remaining: remaining,
            warnings: engine.coverageWarnings(for: reports, sources: lookup.sources)
        )
    }

    /// The distinct indicators an outside source answered: what credits are charged for.
    static func answered(in reports: [IndicatorReport]) -> Set<Indicator> {
        Set(reports.filter(\.answeredByExternalSource).map(\.indicator))
    }

    static func charge(for reports: [IndicatorReport]) -> Int { answered(in: reports).count * creditsPerIndicator }

    /// Notes the values an outside source answered for this key, for its own view of the cache.
    func recordOwnLookups(_ reports: [IndicatorReport], key: APIKey, context: ServerRequestContext) async {
        let answered = reports.filter { $0.verdict != .suppressed && engine.hasOutsideAnswer($0) }.map(\.indicator)
        do {
            try await accounts.recordOwnLookups(keyID: key.id, answered, at: Date())
        } catch {
            context.logger.error(
                "could not record the key's own lookups",
                metadata: ["verdict.key.name": "\(key.name)"]
            )
        }
    }

    /// The reports as this key alone would have seen them: a value new to it was, for it, asked now (not
    /// cached, and charged when an outside source's answer is in it); one it asked before is as old as the
    /// younger of the cached answer and its own first lookup.
    func ownView(of reports: [IndicatorReport], newToKey: Set<Indicator>, ownSince: [Indicator: Date])
        -> [IndicatorReport]
    {
        let now = Date()
        return reports.map { report in
            var shown = report
            if newToKey.contains(report.indicator) {
                shown.cached = false
                shown.ageSeconds = 0
                if engine.hasOutsideAnswer(report) { shown.answeredByExternalSource = true }
            } else if let since = ownSince[report.indicator], report.cached {
                shown.ageSeconds = min(report.ageSeconds, max(0, Int(now.timeIntervalSince(since))))
            }
            return shown
        }
    }

    func usageReport(_ request: Request, context: ServerRequestContext) async throws -> Response {
        guard let key = context.apiKey else { throw KeyAuthenticator.unknownKey() }
        let figures: KeyUsage
        do {
            figures = try await accounts.usage(keyID: key.id, at: Date())
        } catch {
            throw APIError.storeUnavailable()
        }
        var counters = figures.counters
        counters += usage.unwritten(keyID: key.id, month: figures.month)
        func number(_ value: Int?) -> JSONValue { value.map { .number(String($0)) } ?? .null }
        return Response.json(
            .object([
                (
                    "key",
                    .object([
                        ("name", .string(key.name)), ("plan", .string(key.plan.rawValue)),
                        ("prefix", .string(key.prefix)),
                    ])
                ),
                ("month", .string(figures.month)),
                (
                    "credits",
                    .object([
                        ("monthly", number(key.monthlyCredits)), ("used", number(figures.creditsUsed)),
                        ("remaining", number(figures.creditsLeft)),
                    ])
                ),
                ("requests", number(counters.requests)), ("lookups", number(counters.lookups)),
                ("cache_hits", number(counters.cacheHits)), ("upstream_lookups", number(counters.upstreamLookups)),
                ("suppressed", number(counters.suppressed)),
            ])
        )
    }

    /// Settles now, or keeps trying in the background.
    func settleOrRetry(_ reservation: CreditReservation, charged: Int, context: ServerRequestContext) async {
        do {
            _ = try await settle(reservation, charged: charged, context: context)
        } catch {
            retrySettlement(reservation, charged: charged, context: context)
        }
    }

    /// Tries a settlement the store could not take again every few seconds until it is written: settling is
    /// idempotent, so a try whose answer was lost does no harm. After `settlementRetryLimit` (the store has been
    /// away longer than the stale-reservation sweep waits) the sweep has given the held credits back.
    func retrySettlement(_ reservation: CreditReservation, charged: Int, context: ServerRequestContext) {
        let controller = self
        Task {
            let clock = ContinuousClock()
            let started = clock.now
            while clock.now - started < Self.settlementRetryLimit {
                try? await Task.sleep(for: Self.settlementRetryInterval)
                do {
                    _ = try await controller.settle(reservation, charged: charged, context: context)
                    context.logger.info("settled a credit reservation on a later try")
                    return
                } catch {
                    continue
                }
            }
            context.logger.error(
                "gave up settling a credit reservation; the stale-reservation sweep gives its credits back"
            )
        }
    }

    static let settlementRetryInterval = Duration.seconds(2)
    static let settlementRetryLimit = Duration.seconds(15 * 60)

    private func settle(_ reservation: CreditReservation, charged: Int, context: ServerRequestContext) async throws
        -> Int?
    {
        let left = try await accounts.settle(reservation, charged: charged, requestID: context.requestID)
        metrics.recordCredits(charged: charged, refunded: reservation.amount - charged)
        creditsLeft.remember(left, for: reservation.keyID)
        return left
    }

    static func requireJSON(_ headers: HTTPFields) throws {
        let mediaType = headers[.contentType]?.split(separator: ";").first?
            .trimmingCharacters(in: .whitespaces).lowercased()
        guard mediaType == "application/json" else {
            throw APIError(
                .unsupportedMediaType,
                code: "unsupported_media_type",
                message:
                    "the body must be JSON sent with Content-Type: application/json, not \(mediaType.map { "\"\($0)\"" } ?? "no Content-Type")"
            )
        }
    }

    static func collectBody(_ request: Request, limit: Int, timeout: Duration) async throws -> [UInt8] {
        let tooLarge = APIError(
            .contentTooLarge,
            code: "body_too_large",
            message: "the body is larger than \(limit) bytes; send at most 100 indicators per request",
            fields: [("limit_bytes", .number(String(limit)))]
        )
        let declared = request.headers[.contentLength].flatMap { Int($0) }
        if let declared, declared > limit { throw tooLarge }
        let reader = BodyReader(request.body, limit: limit, declaredLength: declared)
        do {
            // Nearly every body arrives with its head: read it without arming a timer (a cancelled timer holds
            // its memory until it would have fired: 112 MB under wrk). The first bytes are bounded by the
            // connection's idle timeout.
            if try await reader.readFirstChunk() { return reader.bytes }
            // However slowly the rest trickles, it has this long: a client that sends a byte a second cannot
            // hold a place (and its buffer) for ever.
            try await withDeadline(timeout) { try await reader.readRest() }
            return reader.bytes
        } catch is NIOTooManyBytesError {
            throw tooLarge
        } catch is DeadlineExceeded {
            throw APIError(
                .requestTimeout,
                code: "body_timeout",
                message:
                    "the body did not arrive within \(timeout.milliseconds) ms (server.body_timeout_ms); send it at once",
                headers: [.connection: "close"]
            )
        }
    }
}

/// Reads a request body chunk by chunk, up to a limit. Used by one task at a time (the request's, then the
/// deadline's child while the parent waits), which is what makes the unchecked `Sendable` safe.
final class BodyReader: @unchecked Sendable {
    private var iterator: RequestBody.AsyncIterator
    private let limit: Int
    private let declaredLength: Int?
    private(set) var bytes: [UInt8] = []

    init(_ body: RequestBody, limit: Int, declaredLength: Int?) {
        iterator = body.makeAsyncIterator()
        self.limit = limit
        self.declaredLength = declaredLength
    }

    /// Reads one chunk; true when the body is then whole (its declared length reached, or no body at all).
    func readFirstChunk() async throws -> Bool {
        guard let chunk = try await iterator.next() else { return true }
        try append(chunk)
        guard let declaredLength, bytes.count >= declaredLength else { return false }
        // The end of the body comes with its last bytes: read it, so the connection is ready for the next request.
        while let extra = try await iterator.next() { try append(extra) }
        return true
    }

    func readRest() async throws {
        while let chunk = try await iterator.next() { try append(chunk) }
    }

    private func append(_ chunk: ByteBuffer) throws {
        guard bytes.count + chunk.readableBytes <= limit else { throw NIOTooManyBytesError(maxBytes: limit) }
        bytes.append(contentsOf: chunk.readableBytesView)
    }
}

/// Credits left per key, as last read or settled, kept for a second: a request answered wholly from the
/// cache can say what is left without a store read.
final class CreditsLeftMemo: Sendable {
    private let entries = Mutex<[Int64: (left: Int?, at: Double)]>([:])
    let lifetime: Double = 1

    func remember(_ left: Int?, for keyID: Int64) {
        let now = Date().timeIntervalSince1970
        entries.withLock { $0[keyID] = (left, now) }
    }

    func value(for key: APIKey, accounts: any AccountStore) async -> Int? {
        guard key.monthlyCredits != nil else { return nil }
        let now = Date().timeIntervalSince1970
        if let entry = entries.withLock({ $0[key.id] }), now - entry.at < lifetime { return entry.left }
        guard let figures = try? await accounts.usage(keyID: key.id, at: Date()) else {
            return entries.withLock { $0[key.id] }?.left
        }
        remember(figures.creditsLeft, for: key.id)
        return figures.creditsLeft
    }
}
