import ArgumentParser
import AsyncHTTPClient
import Foundation
import VerdictCore
import VerdictEngine
import VerdictRelay
import VerdictSources
import VerdictStore
import VerdictWazuh

struct Retry: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the alerts waiting in the retry queue and enrich them now.",
        discussion: """
            custom-verdict and verdict-ar keep an alert no source could answer in time in the retry queue \
            (VERDICT_DATA_DIR); later runs, verdict tail and verdict serve retry it by themselves. This command \
            shows what waits and retries up to 100 alerts (every one with --all) with the backend of the \
            <integration> block in ossec.conf: its <hook_url> server, else the engine here.
            """
    )

    @Flag(help: "Retry every queued alert, not just the first 100.")
    var all = false

    @Option(help: ArgumentHelp("The Wazuh directory (default: VERDICT_WAZUH_HOME, else /var/ossec).", valueName: "dir"))
    var wazuhHome: String?

    @Option(help: "The <integration> block whose server to use.")
    var integration = "custom-verdict"

    @Option(help: CommandContext.databaseHelp)
    var database: String?

    @Option(help: ArgumentHelp("The YAML settings file (default: VERDICT_CONFIG).", valueName: "file"))
    var config: String?

    func run() async throws {
        let configuration = try await CommandContext.configuration(file: config)
        let stores = try await CommandContext.openStores(database, configuration: configuration, retryQueue: true)
        let runtime = try await CommandContext.engineRuntime(configuration, on: stores)
        let queue = try CommandContext.retryQueue(of: stores)
        let before = try await queue.summary()
        CommandContext.writeOut(Self.describe(before))
        guard before.queued > 0 else {
            await runtime.shutdown()
            return
        }
        let home = CommandContext.wazuhHome(wazuhHome)
        var block: IntegrationBlock?
        if let text = try? String(contentsOfFile: home + "/etc/ossec.conf", encoding: .utf8) {
            block = (try? IntegrationBlock.blocks(inOssecConf: text))?.first { $0.name == integration }
        }
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        let backend: any LookupBackend
        if let hook = block?.hookURL, !hook.isEmpty {
            do {
                backend = try ServerBackend(
                    hookURL: hook,
                    apiKey: block?.apiKey ?? "",
                    client: client,
                    api: ClientAPI.detect(apiKey: block?.apiKey, option: block?.clientAPI)
                )
            } catch {
                try? await client.shutdown()
                await runtime.shutdown()
                throw CommandFailure(error.description)
            }
        } else {
            backend = EmbeddedBackend(engine: runtime.engine)
        }
        let report = await RetryDrainer(
            backend: backend,
            suppressor: runtime.engine.suppressor,
            queue: queue,
            settings: configuration.retry
        ).drain(limit: all ? Int.max : 100, deadline: .now + .seconds(all ? 86_400 : 600)) { line in
            CommandContext.writeOut("  \(line)\n")
        }
        try? await client.shutdown()
        await runtime.shutdown()
        let after = try await queue.summary()
        CommandContext.writeOut(
            "retried: \(report.enriched) enriched, \(report.givenUp) written with what answered, \(report.stillWaiting) still waiting; \(report.eventsWritten) events written; \(after.queued) queued now\n"
        )
    }

    static func describe(_ summary: RetryQueueSummary) -> String {
        var lines = ["retry queue: \(summary.queued) alerts queued, \(summary.dropped) dropped so far"]
        if let oldest = summary.oldestAt {
            lines.append("oldest: deferred \(max(0, Int(Date().timeIntervalSince1970 - oldest))) s ago")
        }
        for (reason, count) in summary.reasons.prefix(10) { lines.append("  \(count)  \(reason)") }
        return lines.joined(separator: "\n") + "\n"
    }
}
