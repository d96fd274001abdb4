import Foundation
import VerdictCore

#if canImport(Glibc)
import Glibc
#endif

/// What a replay did (`verdict replay`'s closing table).
public struct ReplayReport: Sendable, Equatable {
    public var files = 0
    public var alerts = 0
    public var notAlerts = 0
    public var overlongLines = 0
    public var verdictEvents = 0
    public var failedLookups = 0
    public var indicators = 0
    public var suppressed = 0
    public var lookedUp = 0
    public var cached = 0
    public var upstream = 0
    public var eventsWritten = 0
    public var verdictCounts: [Verdict: Int] = [:]
    /// Malicious indicators and in how many alerts each was seen.
    public var maliciousAlerts: [String: Int] = [:]
    public var elapsed: Duration = .zero

    public init() {}

    /// Credits a Verdict server would have charged (docs/contracts.md §2: 3 per indicator an outside source answered).
    public var credits: Int { upstream * 3 }

    /// The closing table, aligned for a terminal.
    public var table: String {
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let rate = seconds > 0 ? Int(Double(alerts) / seconds) : alerts
        let ratio = lookedUp > 0 ? String(format: "%.1f%%", 100 * Double(cached) / Double(lookedUp)) : "-"
        var rows: [(String, String)] = [
            ("files", "\(files)"), ("alerts", "\(alerts)"),
            ("lines not alerts / over 64 KiB", "\(notAlerts) / \(overlongLines)"),
            ("Verdict events skipped (loop guard)", "\(verdictEvents)"),
            ("alerts whose lookup failed", "\(failedLookups)"),
            ("indicators (suppressed)", "\(indicators) (\(suppressed))"),
        ]
        for verdict in [Verdict.malicious, .suspicious, .unknown, .harmless] {
            rows.append(("  \(verdict.rawValue)", "\(verdictCounts[verdict] ?? 0)"))
        }
        rows += [
            ("upstream calls (indicators)", "\(upstream)"), ("credits a server would charge", "\(credits)"),
            ("cache hit ratio", ratio), ("events written", "\(eventsWritten)"),
            ("elapsed", String(format: "%.2f s (%d alerts/s)", seconds, rate)),
        ]
        let width = rows.map(\.0.count).max() ?? 0
        var text =
            rows.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }
            .joined(separator: "\n") + "\n"
        let top = maliciousAlerts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(10)
        if !top.isEmpty {
            text += "top malicious indicators (alerts):\n"
            for (indicator, count) in top { text += "  \(count)  \(indicator)\n" }
        }
        return text
    }
}

/// `verdict replay`: the integration's pipeline over saved alerts, several alerts at a time, events written in
/// the order of the alerts (to standard output as NDJSON, or to a queue socket).
public struct AlertReplay {
    public enum Output {
        /// One event payload per line on standard output.
        case standardOutput
        /// Datagrams to analysisd's queue socket at this path.
        case socket(String)
    }

    public var enricher: AlertEnricher
    public var output: Output
    public var concurrency: Int
    /// Per-alert time budget for lookups.
    public var budget: Duration
    /// Called now and then with (bytes read, bytes in all files, alerts so far).
    public var progress: ((Int, Int, Int) -> Void)?

    public init(
        enricher: AlertEnricher,
        output: Output,
        concurrency: Int = 32,
        budget: Duration = .seconds(10),
        progress: ((Int, Int, Int) -> Void)? = nil
    ) {
        self.enricher = enricher
        self.output = output
        self.concurrency = concurrency
        self.budget = budget
        self.progress = progress
    }

    public func run(files: [String]) async throws -> ReplayReport {
        let started = ContinuousClock.now
        var report = ReplayReport()
        let readers = try files.map { path throws(IntegrationFailure) in try AlertFileReader(path: path) }
        let totalBytes = readers.map(\.fileSize).reduce(0, +)
        var socket: QueueSocket?
        if case .socket(let path) = output { socket = try QueueSocket(path: path) }
        var doneBytes = 0
        var lastProgress = ContinuousClock.now
        for reader in readers {
            report.files += 1
            while true {
                let lines = try reader.nextLines(concurrency * 4)
                if lines.isEmpty { break }
                let looked = await lookUp(lines)
                for result in looked {
                    try await write(result, into: &report, socket: socket)
                }
                if let progress, ContinuousClock.now - lastProgress > .milliseconds(200) {
                    progress(doneBytes + reader.bytesRead, totalBytes, report.alerts)
                    lastProgress = .now
                }
            }
            report.overlongLines += reader.overlongLines
            doneBytes += reader.bytesRead
        }
        progress?(doneBytes, totalBytes, report.alerts)
        report.elapsed = ContinuousClock.now - started
        return report
    }

    enum LineResult: Sendable {
        case notAlert
        case failed
        case looked(AlertEnricher.Lookup)
    }

    /// Looks a batch of lines up, at most `concurrency` at once; the answers come back in line order.
    func lookUp(_ lines: [(number: Int, bytes: [UInt8])]) async -> [LineResult] {
        let enricher = enricher
        let budget = budget
        return await orderedConcurrentMap(lines.map(\.bytes), limit: concurrency) { bytes in
            guard let alert = try? JSONValue(parsing: bytes), case .object = alert, alert["rule"] != nil else {
                return .notAlert
            }
            do {
                return .looked(try await enricher.lookUp(alert, deadline: .now + budget))
            } catch {
                return .failed
            }
        }
    }

    func write(_ result: LineResult, into report: inout ReplayReport, socket: QueueSocket?) async throws {
        switch result {
        case .notAlert:
            report.notAlerts += 1
        case .failed:
            report.alerts += 1
            report.failedLookups += 1
        case .looked(let lookup):
            report.alerts += 1
            if lookup.summary.skippedBecause != nil {
                report.verdictEvents += 1
                return
            }
            report.indicators += lookup.summary.indicators
            report.suppressed += lookup.summary.suppressed
            report.lookedUp += lookup.summary.lookedUp
            report.cached += lookup.summary.cached
            for outcome in lookup.outcomes {
                report.verdictCounts[outcome.verdict, default: 0] += 1
                if outcome.upstream { report.upstream += 1 }
                if outcome.verdict == .malicious { report.maliciousAlerts[outcome.indicator.value, default: 0] += 1 }
            }
            let headerBytes = EnrichedEvent.header(for: lookup.context).utf8.count
            for event in lookup.events {
                if let socket {
                    try await socket.send(event, deadline: .now + .seconds(5))
                } else {
                    // The payload alone, without the queue header.
                    FileHandle.standardOutput.write(Data(event[headerBytes...] + [0x0A]))
                }
                report.eventsWritten += 1
            }
        }
    }
}
