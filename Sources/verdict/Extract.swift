import ArgumentParser
import Foundation
import VerdictCore
import VerdictSources

struct Extract: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the indicators in a text or in Wazuh alerts, as JSON.",
        discussion: """
            --text prints one object for the whole text. --alerts reads one alert per line (NDJSON, as in \
            alerts.json) and prints one object per line, or {"error": …, "line": N} for a line that is not \
            an alert. Warninglists, the allow-list and internal suffixes come from VERDICT_FEEDS_DIR.
            """
    )

    @Option(name: .long, help: ArgumentHelp("A text file to read, or - for standard input.", valueName: "file"))
    var text: String?

    @Option(name: .long, help: ArgumentHelp("An NDJSON alerts file, or - for standard input.", valueName: "file"))
    var alerts: String?

    @Option(name: .long, help: "Most indicators (and suppressed values) of one type to report per text or alert.")
    var maxPerType: Int?

    func validate() throws {
        if (text == nil) == (alerts == nil) {
            throw ValidationError("give exactly one of --text FILE or --alerts FILE (use - for standard input)")
        }
        if let maxPerType, maxPerType < 1 {
            throw ValidationError("--max-per-type must be at least 1")
        }
    }

    func run() throws {
        let suppressor = try CommandContext.suppressor()
        if let text {
            let input = try CommandContext.open(text)
            let bytes = try CommandContext.readAll(input, name: text)
            let extractor = IndicatorExtractor(suppressor: suppressor, maxPerType: maxPerType)
            let output = extractor.extract(text: String(decoding: bytes, as: UTF8.self)).jsonLine()
            CommandContext.writeOut(output + "\n")
        } else if let alerts {
            // Alerts are capped per type by default: one noisy alert must not cost a hundred lookups.
            let extractor = IndicatorExtractor(suppressor: suppressor, maxPerType: maxPerType ?? 20)
            let input = try CommandContext.open(alerts)
            var splitter = LineSplitter()
            var output = ""
            func flushIfLarge() {
                if output.utf8.count > 1 << 16 {
                    CommandContext.writeOut(output)
                    output = ""
                }
            }
            while true {
                let chunk: Data
                do {
                    chunk = try input.read(upToCount: 1 << 20) ?? Data()
                } catch {
                    throw CommandFailure("cannot read \(alerts): \(error.localizedDescription)")
                }
                if chunk.isEmpty { break }
                for line in splitter.push(chunk) {
                    if let json = extractor.outputLine(forAlertLine: line.bytes, number: line.number) {
                        output += json + "\n"
                    }
                }
                flushIfLarge()
            }
            if let line = splitter.finish(),
                let json = extractor.outputLine(forAlertLine: line.bytes, number: line.number)
            {
                output += json + "\n"
            }
            CommandContext.writeOut(output)
        }
    }
}
