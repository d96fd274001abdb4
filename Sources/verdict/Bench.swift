import ArgumentParser
import Foundation
import VerdictCore
import VerdictEngine
import VerdictSQLite
import VerdictStore
import VerdictStoreFactory

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure Verdict's speed (build with -c release for real figures).",
        subcommands: [ExtractBench.self, EngineBench.self, BudgetBench.self]
    )
}

struct ExtractBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extract",
        abstract: "Text extraction MB/s, alerts/s for --alerts, and the slowest adversarial input (one core)."
    )

    @Option(help: "Megabytes of each kind of generated text (logs, report prose, IOC lists, tables, links).")
    var megabytes = 4

    @Option(help: "How many generated Wazuh alerts to extract from.")
    var alerts = 20_000

    @Option(help: "Runs of each measurement; the fastest counts.")
    var repetitions = 5

    @Option(help: "Also measure these files (real reports, say), each read as `verdict extract --text` reads it.")
    var text: [String] = []

    func run() throws {
        let benchmark = ExtractionBenchmark(textMegabytes: megabytes, alertCount: alerts, repetitions: repetitions)
        var files: [ExtractionBenchmark.TextMeasurement] = []
        for path in text {
            let bytes = try CommandContext.readAll(CommandContext.open(path), name: path)
            files.append(benchmark.measure(name: path, text: Array(bytes)))
        }
        let report = benchmark.run()
        var lines = ["text extraction (MB/s, one core):"]
        for item in report.text + files {
            lines.append(
                "  \(item.name): \(item.bytes) bytes in \(format(item.seconds)) s = "
                    + "\(format(item.megabytesPerSecond)) MB/s (\(item.indicators) indicators)"
            )
        }
        lines += [
            "alert extraction: \(report.alertCount) alerts in \(format(report.alertSeconds)) s = "
                + "\(Int(report.alertsPerSecond)) alerts/s (\(report.alertIndicators) indicators)",
            "adversarial inputs (about 1 MB each):",
        ]
        for item in report.adversarial {
            lines.append("  \(item.name): \(format(item.seconds * 1000)) ms")
        }
        let worst = report.adversarial.max { $0.seconds < $1.seconds }!
        lines.append("worst adversarial input: \(worst.name), \(format(worst.seconds * 1000)) ms")
        print(lines.joined(separator: "\n"))
    }

    func format(_ value: Double) -> String {
        String(format: "%.3f", value)
    }
}

struct EngineBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engine",
        abstract: "Fan-out latency, a hung source, upstream calls for a Zipf replay, cached lookups/s (one core)."
    )

    @Option(help: "Lookups in the Zipf replay.")
    var lookups = 100_000

    @Option(help: "Distinct values the replay draws from.")
    var values = 5000

    func run() async throws {
        let report = await EngineBenchmark(replayLookups: lookups, replayValues: values).run()
        let calls = report.replayUpstreamCallsPerSource
        let ratio = Double(report.replayLookups) / Double(max(1, calls.max() ?? 1))
        print(
            """
            (a) 10 sources answering in 100 ms: lookup median \(format(report.fanOutMilliseconds.median)) ms, \
            max \(format(report.fanOutMilliseconds.max)) ms
            (b) the same plus one hung source, deadline \(report.hungDeadlineMilliseconds) ms: median \
            \(format(report.hungMilliseconds.median)) ms, max \(format(report.hungMilliseconds.max)) ms
            (c) replay of \(report.replayLookups) Zipf lookups over \(values) values (\(report.replayDistinctValues) drawn): \
            upstream calls per source \(calls.map(String.init).joined(separator: "/")), \(format(ratio))x fewer than lookups, \
            \(format(report.replaySeconds)) s
            (d) cached lookups, 10 sources: \(report.cachedLookups) in \(format(report.cachedSeconds)) s = \
            \(Int(report.cachedLookupsPerSecond)) lookups/s
            """
        )
    }

    func format(_ value: Double) -> String {
        String(format: "%.1f", value)
    }
}

struct BudgetBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "budget",
        abstract:
            "What the shared stores cost per call (p50/p99): a window take, take and settle, a credit reservation and its settlement; pools stand in for processes or replicas."
    )

    @Option(help: "Window takes in all.")
    var takes = 2000

    @Option(help: "Pools on the one database, each taking at once (as many processes or replicas would).")
    var connections = 1

    @Option(
        help: ArgumentHelp(
            "Measure on this database (postgres://… or sqlite:PATH); default: a new SQLite file in a temporary folder.",
            valueName: "url"
        )
    )
    var database: String?

    func run() async throws {
        let location: DatabaseLocation?
        do {
            location = try database.map { try DatabaseLocation($0, dataDirectory: "") }
        } catch let error as StoreError {
            throw CommandFailure(error.description)
        }
        let report = try await StoreBenchmark(takes: takes, connections: connections, location: location).run()
        print(
            """
            \(report.database), \(report.connections) pool(s), \(report.takes) takes:
            shared window take: p50 \(format(report.takeMicroseconds.p50)) µs, p99 \(format(report.takeMicroseconds.p99)) µs
            take and settle (what one upstream call adds): p50 \(format(report.roundMicroseconds.p50)) µs, \
            p99 \(format(report.roundMicroseconds.p99)) µs; \(Int(report.takesPerSecond)) calls/s in all
            credit reserve and settle: p50 \(format(report.creditMicroseconds.p50)) µs, \
            p99 \(format(report.creditMicroseconds.p99)) µs
            all the store adds to a lookup that asks a source (credits, cache miss and write, window): \
            p50 \(format(report.upstreamLookupMicroseconds.p50)) µs, p99 \(format(report.upstreamLookupMicroseconds.p99)) µs
            """
        )
    }

    func format(_ value: Double) -> String {
        String(format: "%.0f", value)
    }
}
