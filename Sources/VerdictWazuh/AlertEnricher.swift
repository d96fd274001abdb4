import Foundation
import VerdictCore
import VerdictEngine

/// What one alert's enrichment did, for the log line.
public struct EnrichmentSummary: Sendable, Equatable {
    public var indicators = 0
    public var suppressed = 0
    public var lookedUp = 0
    public var cached = 0
    public var eventsWritten = 0
    public var verdictCounts: [Verdict: Int] = [:]
    /// Set when the alert was skipped as a whole (a Verdict event, no rule).
    public var skippedBecause: String?
    /// Sources that gave no answer, each once with its first reason (`virustotal quota_exhausted: …`): a quota
    /// spent or a circuit open must show in the log of every alert it touched.
    public var unanswered: [String] = []

    public init() {}

    public var description: String {
        if let skippedBecause { return "skipped: \(skippedBecause)" }
        let verdicts = [Verdict.malicious, .suspicious, .unknown, .harmless].compactMap { verdict in
            verdictCounts[verdict].map { "\($0) \(verdict.rawValue)" }
        }
        return
            "\(indicators) indicators, \(suppressed) suppressed, \(lookedUp) looked up (\(cached) cached)"
            + (verdicts.isEmpty ? "" : ": " + verdicts.joined(separator: ", "))
            + "; \(eventsWritten) events written"
            + (unanswered.isEmpty ? "" : "; not answered: " + unanswered.joined(separator: "; "))
    }
}

/// The pipeline every Wazuh-facing part shares (custom-verdict, verdict-ar, later the tail daemon): pull
/// the indicators out of an alert, look them up, and write one event per indicator worth reporting to
/// analysisd's queue socket.
public struct AlertEnricher: Sendable {
    public var options: IntegrationOptions
    public var suppressor: Suppressor
    public var backend: any LookupBackend
    public var socketPath: String

    public init(options: IntegrationOptions, suppressor: Suppressor, backend: any LookupBackend, socketPath: String) {
        self.options = options
        self.suppressor = suppressor
        self.backend = backend
        self.socketPath = socketPath
    }

    /// Enriches one alert before `deadline` and writes its events to analysisd's queue socket.
    public func enrich(_ alert: JSONValue, deadline: ContinuousClock.Instant) async throws -> EnrichmentSummary {
        let looked = try await lookUp(alert, deadline: deadline)
        var summary = looked.summary
        summary.eventsWritten += try await write(looked.events, deadline: deadline)
        return summary
    }

    /// Writes datagrams to analysisd's queue socket, in order; returns how many.
    public func write(_ events: [[UInt8]], deadline: ContinuousClock.Instant) async throws -> Int {
        guard !events.isEmpty else { return 0 }
        let socket = try QueueSocket(path: socketPath)
        for event in events { try await socket.send(event, deadline: deadline) }
        return events.count
    }

    /// What one alert gives: its summary, the outcomes, and the datagrams worth writing (header included).
    public struct Lookup: Sendable {
        public var context: AlertContext
        public var summary: EnrichmentSummary
        public var outcomes: [IndicatorOutcome]
        /// Each outcome's event, or nil when the options do not write its verdict.
        public var allEvents: [[UInt8]?]
        /// The events to write, in order.
        public var events: [[UInt8]] { allEvents.compactMap { $0 } }
        /// The events of the indicators that got an answer (the others wait in the retry queue).
        public var answeredEvents: [[UInt8]] {
            zip(outcomes, allEvents).filter { !$0.0.lacksAnAnswer }.compactMap(\.1)
        }
    }

    /// The indicators of `alert` this integration looks up (outside its skipped fields, each once), and how many
    /// it suppressed.
    ///   - only: just these values (credential-free, as lookups and the retry queue name them).
    public func indicators(in alert: JSONValue, only: Set<String>? = nil) -> (found: [FoundIndicator], suppressed: Int)
    {
        let extraction = IndicatorExtractor(suppressor: suppressor, maxPerType: options.maxPerType).extract(
            alert: alert
        )
        var seen = Set<Indicator>()
        let found = extraction.indicators.filter { item in
            !options.skips(field: item.field) && seen.insert(item.indicator).inserted
                && (only?.contains(item.indicator.withoutCredentials.value) ?? true)
        }
        return (found, extraction.suppressed.filter { !options.skips(field: $0.field) }.count)
    }

    /// Pulls the indicators out of an alert and looks them up; writes nothing. Leaves a small part of the
    /// budget for writing the events.
    ///   - only: look up only these indicator values (an alert from the retry queue, some of whose indicators
    ///     were answered before).
    ///   - deferredAt: when the alert was deferred, for its late events (`deferred_s`).
    public func lookUp(
        _ alert: JSONValue,
        deadline: ContinuousClock.Instant,
        only: Set<String>? = nil,
        deferredAt: Double? = nil
    ) async throws -> Lookup {
        var summary = EnrichmentSummary()
        var context = AlertContext(alert: alert)
        if let deferredAt { context.deferredSeconds = max(0, Int(Date().timeIntervalSince1970 - deferredAt)) }
        if context.isVerdictEvent {
            summary.skippedBecause = "the alert is a Verdict event (loop guard)"
            return Lookup(context: context, summary: summary, outcomes: [], allEvents: [])
        }
        let (found, suppressed) = indicators(in: alert, only: only)
        summary.indicators = found.count
        summary.suppressed = suppressed
        guard !found.isEmpty else { return Lookup(context: context, summary: summary, outcomes: [], allEvents: []) }

        let writingReserve = Duration.milliseconds(200)
        let budget = max(.milliseconds(50), deadline - ContinuousClock.now - writingReserve)
        let outcomes = try await backend.lookUp(found, sources: options.sources, within: budget)
        summary.lookedUp = outcomes.filter { $0.verdict != .suppressed }.count
        summary.cached = outcomes.filter(\.cached).count
        var named = Set<String>()
        for outcome in outcomes {
            summary.verdictCounts[outcome.verdict, default: 0] += 1
            for source in outcome.sources
            where source.status.isUnanswered && named.insert(source.name).inserted {
                summary.unanswered.append(
                    "\(source.name) \(source.status.rawValue)" + (source.error.map { ": \($0)" } ?? "")
                )
            }
        }
        let allEvents = outcomes.map {
            options.emits($0.verdict) ? EnrichedEvent.datagram(for: $0, alert: context) : nil
        }
        return Lookup(context: context, summary: summary, outcomes: outcomes, allEvents: allEvents)
    }
}
