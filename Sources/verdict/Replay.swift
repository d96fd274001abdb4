import ArgumentParser
import Foundation
import VerdictCore
import VerdictEngine
import VerdictStore
import VerdictWazuh

#if canImport(Glibc)
import Glibc
#endif

struct Replay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run saved alerts (alerts.json, or .json.gz archives) through the integration's pipeline.",
        discussion: """
            Events go to standard output as NDJSON (the payload analysisd would get), or to a queue socket with \
            --socket. A progress bar (on a terminal) and a closing table go to standard error. Lookups use the \
            embedded engine and its cache in VERDICT_DATA_DIR.
            """
    )

    @Argument(help: "Alert files: NDJSON, or gzip as Wazuh archives them.")
    var files: [String]

    @Option(help: ArgumentHelp("Write events to this queue socket instead of standard output.", valueName: "path"))
    var socket: String?

    @Option(help: "Least verdict written: malicious, suspicious, unknown, harmless or all.")
    var minVerdict = "suspicious"

    @Option(help: ArgumentHelp("Only these sources, comma-separated.", valueName: "a,b"))
    var sources: String?

    @Option(help: "Alerts looked up at once.")
    var concurrency = 32

    @Option(help: CommandContext.databaseHelp)
    var database: String?

    @Option(help: ArgumentHelp("The YAML settings file (default: VERDICT_CONFIG).", valueName: "file"))
    var config: String?

    func validate() throws {
        guard !files.isEmpty else { throw ValidationError("give at least one alerts file") }
        guard (1...1024).contains(concurrency) else { throw ValidationError("--concurrency must be 1 to 1024") }
    }

    func run() async throws {
        var members: [(key: String, value: JSONValue)] = [("min_verdict", .string(minVerdict))]
        if let sources { members.append(("sources", .string(sources))) }
        var writer = JSONWriter()
        writer.value(.object(members))
        let options: IntegrationOptions
        do {
            options = try IntegrationOptions(json: writer.bytes, file: "the command line")
        } catch {
            throw CommandFailure(error.description)
        }
        let configuration = try await CommandContext.configuration(file: config)
        let stores = try await CommandContext.openStores(database, configuration: configuration)
        let runtime = try await CommandContext.engineRuntime(configuration, on: stores)
        let showProgress = isatty(STDERR_FILENO) == 1
        let output: AlertReplay.Output
        if let socket { output = .socket(socket) } else { output = .standardOutput }
        let progress: ((Int, Int, Int) -> Void)? =
            showProgress ? { done, total, alerts in Self.drawProgress(done: done, total: total, alerts: alerts) } : nil
        let replay = AlertReplay(
            enricher: AlertEnricher(
                options: options,
                suppressor: runtime.engine.suppressor,
                backend: EmbeddedBackend(engine: runtime.engine),
                socketPath: socket ?? ""
            ),
            output: output,
            concurrency: concurrency,
            progress: progress
        )
        let report: ReplayReport
        do {
            report = try await replay.run(files: files)
        } catch let failure as IntegrationFailure {
            await runtime.shutdown()
            throw CommandFailure(failure.description)
        }
        await runtime.shutdown()
        if showProgress { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        FileHandle.standardError.write(Data(report.table.utf8))
    }

    /// `[#########...........]  45%  12,345 alerts`, redrawn in place.
    static func drawProgress(done: Int, total: Int, alerts: Int) {
        let fraction = total > 0 ? min(1, Double(done) / Double(total)) : 0
        let filled = Int(fraction * 30)
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: 30 - filled)
        let line = String(format: "\r[%@] %3d%%  %d alerts", bar, Int(fraction * 100), alerts)
        FileHandle.standardError.write(Data(line.utf8))
    }
}
