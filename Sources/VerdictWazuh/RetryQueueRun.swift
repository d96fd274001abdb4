import Foundation
import ServiceLifecycle
import VerdictCore
import VerdictEngine
import VerdictStore

/// Nothing lost on the integratord and active-response path: an alert that gets no answer in time (the server
/// down, refusing or slow, every outside source failing or out of quota) is kept in the retry queue, says so in
/// one event (rule 100613), and is enriched later by whichever Verdict process on the data directory drains it.
public struct RetryingEnricher: Sendable {
    public let enricher: AlertEnricher
    public let queue: any RetryQueueStore
    public let settings: RetrySettings
    /// The Wazuh home the alert came from (its queue socket gets the late events).
    public let home: String
    /// The integration's `<options>`, kept with a deferred alert so its retry writes what they ask for.
    public let optionsJSON: [UInt8]?

    public init(
        enricher: AlertEnricher,
        queue: any RetryQueueStore,
        settings: RetrySettings,
        home: String,
        optionsJSON: [UInt8]?
    ) {
        self.enricher = enricher
        self.queue = queue
        self.settings = settings
        self.home = home
        self.optionsJSON = optionsJSON
    }

    /// What happened to one alert.
    public struct Outcome: Sendable {
        public var summary: EnrichmentSummary
        /// Why it was kept for later; nil when it was enriched.
        public var deferredBecause: String?
        /// Alerts in the queue after this one was kept.
        public var queued = 0
        /// Alerts the queue dropped to make room for this one.
        public var dropped = 0
    }

    /// Enriches `alert` before `deadline`: the events of what answered are written now; indicators nobody could
    /// answer are kept with the alert in the queue.
    public func enrich(_ alert: JSONValue, raw: [UInt8], deadline: ContinuousClock.Instant) async throws -> Outcome {
        let lookup: AlertEnricher.Lookup
        do {
            lookup = try await enricher.lookUp(alert, deadline: deadline)
        } catch let failure as IntegrationFailure where failure.isWorthRetrying {
            let (found, suppressed) = enricher.indicators(in: alert)
            let indicators = found.map(\.indicator.withoutCredentials.value)
            var outcome = Outcome(summary: EnrichmentSummary(), deferredBecause: failure.description)
            outcome.summary.indicators = indicators.count
            outcome.summary.suppressed = suppressed
            try await keep(
                raw,
                context: AlertContext(alert: alert),
                pending: nil,
                shown: indicators,
                reason: failure.description,
                into: &outcome,
                deadline: deadline
            )
            return outcome
        }
        var outcome = Outcome(summary: lookup.summary)
        let waiting = lookup.outcomes.filter(\.lacksAnAnswer)
        guard !waiting.isEmpty else {
            outcome.summary.eventsWritten += try await enricher.write(lookup.events, deadline: deadline)
            return outcome
        }
        let waitingValues = waiting.map(\.indicator.value)
        outcome.summary.eventsWritten += try await enricher.write(lookup.answeredEvents, deadline: deadline)
        let reason = Self.reason(waiting)
        outcome.deferredBecause = reason
        try await keep(
            raw,
            context: lookup.context,
            pending: waitingValues,
            shown: waitingValues,
            reason: reason,
            into: &outcome,
            deadline: deadline
        )
        return outcome
    }

    func keep(
        _ raw: [UInt8],
        context: AlertContext,
        pending: [String]?,
        shown: [String],
        reason: String,
        into outcome: inout Outcome,
        deadline: ContinuousClock.Instant
    ) async throws {
        let kept = DeferredAlert(
            alert: raw,
            options: optionsJSON,
            home: home,
            pending: pending,
            reason: reason,
            deferredAt: Date().timeIntervalSince1970
        )
        let (queued, dropped) = try await queue.enqueue(kept, limits: settings, at: kept.deferredAt)
        outcome.queued = queued
        outcome.dropped = dropped
        let event = EnrichedEvent.deferredDatagram(for: context, reason: reason, indicators: shown, queued: queued)
        outcome.summary.eventsWritten += try await enricher.write([event], deadline: deadline)
    }

    /// `no outside source answered: virustotal quota_exhausted, abuseipdb error`, from the first indicator waiting.
    static func reason(_ waiting: [IndicatorOutcome]) -> String {
        let failed = (waiting.first?.sources ?? []).filter { $0.name != "local" && $0.status != .skipped }
        return "no outside source answered: "
            + failed.map { "\($0.name) \($0.status.rawValue)" }.joined(separator: ", ")
    }
}

/// Takes alerts from the retry queue and enriches them with a backend that answers again; their events say how
/// late they are (`deferred_s`). Alerts are claimed one at a time with a lease longer than the work, so two
/// processes draining at once never write one alert twice.
public struct RetryDrainer: Sendable {
    public let backend: any LookupBackend
    public let suppressor: Suppressor
    public let queue: any RetryQueueStore
    public let settings: RetrySettings

    public init(backend: any LookupBackend, suppressor: Suppressor, queue: any RetryQueueStore, settings: RetrySettings)
    {
        self.backend = backend
        self.suppressor = suppressor
        self.queue = queue
        self.settings = settings
    }

    public struct Report: Sendable, Equatable {
        /// Alerts whose events are now all written.
        public var enriched = 0
        /// Alerts tried and given back, still without an answer.
        public var stillWaiting = 0
        /// Alerts written with what answered after `max_attempts` tries.
        public var givenUp = 0
        public var eventsWritten = 0
    }

    /// Drains up to `limit` alerts, each with up to `perAlert` of time, and stops before `deadline` or at the first
    /// alert the backend still cannot answer (it is down again: the rest wait).
    @discardableResult
    public func drain(
        limit: Int,
        deadline: ContinuousClock.Instant,
        perAlert: Duration = .seconds(10),
        log: @Sendable (String) -> Void
    ) async -> Report {
        var report = Report()
        while report.enriched + report.stillWaiting + report.givenUp < limit {
            let remaining = deadline - .now
            guard remaining > .milliseconds(300) else { break }
            let budget = min(remaining, perAlert)
            let lease = Double(budget.components.seconds) + 30
            let claimed: [DeferredAlert]
            do {
                claimed = try await queue.claim(limit: 1, lease: lease, at: Date().timeIntervalSince1970)
            } catch {
                log("error: cannot read the retry queue: \(error)")
                break
            }
            guard let entry = claimed.first else { break }
            let keepGoing = await retry(entry, deadline: .now + budget, into: &report, log: log)
            if !keepGoing { break }
        }
        return report
    }

    /// One queued alert; false when the backend still does not answer.
    func retry(
        _ entry: DeferredAlert,
        deadline: ContinuousClock.Instant,
        into report: inout Report,
        log: @Sendable (String) -> Void
    ) async -> Bool {
        let late =
            "queued alert \(entry.id) (deferred \(max(0, Int(Date().timeIntervalSince1970 - entry.deferredAt))) s ago)"
        do {
            let alert = try JSONValue(parsing: entry.alert)
            let options =
                try entry.options.map { try IntegrationOptions(json: $0, file: "the queued alert's options") }
                ?? IntegrationOptions()
            let enricher = AlertEnricher(
                options: options,
                suppressor: suppressor,
                backend: backend,
                socketPath: entry.home + "/queue/sockets/queue"
            )
            let lookup: AlertEnricher.Lookup
            do {
                lookup = try await enricher.lookUp(
                    alert,
                    deadline: deadline,
                    only: entry.pending.map(Set.init),
                    deferredAt: entry.deferredAt
                )
            } catch let failure as IntegrationFailure where failure.isWorthRetrying {
                try await queue.giveBack(
                    entry.id,
                    pending: entry.pending,
                    reason: failure.description,
                    countsAsTry: true
                )
                report.stillWaiting += 1
                log("\(late): still no answer (\(failure.description)); it stays queued")
                return false
            }
            let waiting = lookup.outcomes.filter(\.lacksAnAnswer)
            // Only a source really asked makes a try: during a quota outage the alert waits, it is not used up.
            let asked = waiting.contains { outcome in outcome.sources.contains { $0.status == .error } }
            if !waiting.isEmpty && (!asked || entry.attempts + 1 < settings.maxAttempts) {
                let answered = lookup.answeredEvents
                report.eventsWritten += try await enricher.write(answered, deadline: deadline)
                let reason = RetryingEnricher.reason(waiting)
                try await queue.giveBack(
                    entry.id,
                    pending: waiting.map(\.indicator.value),
                    reason: reason,
                    countsAsTry: asked
                )
                report.stillWaiting += 1
                log("\(late): \(waiting.count) indicators still without an answer (\(reason)); it stays queued")
                return false
            }
            report.eventsWritten += try await enricher.write(lookup.events, deadline: deadline)
            try await queue.finish(entry.id)
            if waiting.isEmpty {
                report.enriched += 1
                log("\(late) [\(backend.mode)]: \(lookup.summary.description)")
            } else {
                report.givenUp += 1
                log(
                    "\(late): written with what answered after \(entry.attempts + 1) tries: \(lookup.summary.description)"
                )
            }
            return true
        } catch {
            // An alert that cannot be read or written now (analysisd away) is given back for another try.
            try? await queue.giveBack(entry.id, pending: entry.pending, reason: "\(error)", countsAsTry: true)
            log("error: \(late): \(error); it stays queued")
            return false
        }
    }
}

/// Drains the retry queue in a long-running process (`verdict tail`, `verdict serve` on the same data
/// directory): every `interval` while alerts wait.
public struct RetryDrainService: Service {
    let drainer: RetryDrainer
    let interval: Duration
    let log: @Sendable (String) -> Void

    public init(drainer: RetryDrainer, interval: Duration = .seconds(10), log: @escaping @Sendable (String) -> Void) {
        self.drainer = drainer
        self.interval = interval
        self.log = log
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                if let waiting = try? await drainer.queue.summary().queued, waiting > 0 {
                    await drainer.drain(limit: 100, deadline: .now + .seconds(60), log: log)
                }
                do { try await Task.sleep(for: interval) } catch { return }
            }
        }
    }
}
