import ArgumentParser
import Foundation
import VerdictCore

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure Verdict's speed (build with -c release for real figures).",
        subcommands: [ExtractBench.self]
    )
}

struct ExtractBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extract",
        abstract: "Text extraction MB/s, alerts/s for --alerts, and the slowest adversarial input (one core)."
    )

    @Option(help: "Megabytes of mixed log and report text to scan.")
    var megabytes = 4

    @Option(help: "How many generated Wazuh alerts to extract from.")
    var alerts = 20_000

    @Option(help: "Runs of each measurement; the fastest counts.")
    var repetitions = 5

    func run() throws {
        let report = ExtractionBenchmark(textMegabytes: megabytes, alertCount: alerts, repetitions: repetitions).run()
        var lines = [
            "text extraction: \(report.textBytes) bytes in \(format(report.textSeconds)) s = "
                + "\(format(report.textMegabytesPerSecond)) MB/s (\(report.textIndicators) indicators)",
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
