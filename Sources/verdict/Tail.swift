import ArgumentParser
import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import UnixSignals
import VerdictCore
import VerdictEngine
import VerdictRelay
import VerdictStore
import VerdictWazuh

struct Tail: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Follow alerts.json and enrich matching alerts without a process per alert (replaces integratord for Verdict).",
        discussion: """
            Applies the filters of the <integration> block named by --integration in ossec.conf (level, group, \
            rule_id, event_location, as integratord does), or the equivalent flags. A checkpoint after every event \
            (in VERDICT_DATA_DIR/tail) lets a restart, even after kill -9, go on where it stopped; events wait in \
            an on-disk spool while analysisd is away. SIGTERM finishes the alerts in hand and exits.
            """
    )

    @Option(help: ArgumentHelp("The Wazuh directory (default: VERDICT_WAZUH_HOME, else /var/ossec).", valueName: "dir"))
    var wazuhHome: String?

    @Option(help: ArgumentHelp("The alerts file (default: <wazuh>/logs/alerts/alerts.json).", valueName: "file"))
    var alerts: String?

    @Option(
        help: ArgumentHelp(
            "ossec.conf with the <integration> block (default: <wazuh>/etc/ossec.conf).",
            valueName: "file"
        )
    )
    var ossecConf: String?

    @Option(help: "The <integration> block whose filters and options to use.")
    var integration = "custom-verdict"

    @Option(help: "Only alerts of at least this level (instead of the block's).")
    var level: Int?

    @Option(help: ArgumentHelp("Only alerts in one of these rule groups (comma-separated).", valueName: "a,b"))
    var group: String?

    @Option(help: ArgumentHelp("Only these rule IDs (comma-separated).", valueName: "id,id"))
    var ruleID: String?

    @Option(help: ArgumentHelp("Only alerts whose location matches this OS_Match pattern.", valueName: "pattern"))
    var location: String?

    @Option(help: ArgumentHelp("The queue socket (default: <wazuh>/queue/sockets/queue).", valueName: "path"))
    var socket: String?

    @Option(help: "Alerts looked up at once.")
    var concurrency = 16

    @Option(help: "Serve Prometheus metrics on this port (127.0.0.1).")
    var metricsPort: Int?

    @Option(help: "Most megabytes of events kept on disk while analysisd is away.")
    var spoolMB = 64

    @Flag(help: "With no checkpoint yet, start at the beginning of alerts.json instead of its end.")
    var fromStart = false

    @Option(help: CommandContext.databaseHelp)
    var database: String?

    @Option(help: ArgumentHelp("The YAML settings file (default: VERDICT_CONFIG).", valueName: "file"))
    var config: String?

    func run() async throws {
        let home = CommandContext.wazuhHome(wazuhHome)
        let alertsPath = alerts ?? home + "/logs/alerts/alerts.json"
        let confPath = ossecConf ?? home + "/etc/ossec.conf"
        var block = IntegrationBlock(name: integration)
        let flagsGiven = level != nil || group != nil || ruleID != nil || location != nil
        if FileManager.default.fileExists(atPath: confPath) {
            let text = try String(contentsOfFile: confPath, encoding: .utf8)
            do {
                let blocks = try IntegrationBlock.blocks(inOssecConf: text)
                if let found = blocks.first(where: { $0.name == integration }) {
                    block = found
                } else if !flagsGiven {
                    throw CommandFailure(
                        "\(confPath) has no <integration> named \(integration); add it (wazuh/ossec.conf.example) or give --level/--group/--rule-id/--location"
                    )
                }
            } catch let failure as IntegrationFailure {
                throw CommandFailure(failure.description)
            }
        } else if ossecConf != nil {
            throw CommandFailure("cannot read \(confPath): no such file")
        }
        if let level { block.level = level }
        if let group { block.groups = group.split(separator: ",").map(String.init) }
        if let ruleID {
            block.ruleIDs = try ruleID.split(separator: ",").map { token in
                let trimmed = token.trimmingCharacters(in: .whitespaces)
                guard let id = Int(trimmed), id >= 0 else {
                    throw CommandFailure(
                        "--rule-id: \"\(trimmed)\" is not a rule ID; give numbers separated by commas (5712,5763)"
                    )
                }
                return id
            }
        }
        if let location { block.eventLocation = location }

        var options = IntegrationOptions()
        if let text = block.options {
            do {
                options = try IntegrationOptions(json: Array(text.utf8), file: "<options> of \(integration)")
            } catch {
                throw CommandFailure(error.description)
            }
        }
        let configuration = try await CommandContext.configuration(file: config)
        var settings = AlertsTail.Settings(
            alertsPath: alertsPath,
            socketPath: socket ?? home + "/queue/sockets/queue",
            stateFolder: configuration.dataDirectory + "/tail"
        )
        settings.block = block
        settings.concurrency = max(1, concurrency)
        settings.spoolLimitBytes = UInt64(max(1, spoolMB)) << 20
        settings.startAtEnd = !fromStart
        settings.perAlertBudget = .milliseconds(Int64((options.timeoutSeconds ?? block.timeoutSeconds ?? 10) * 1000))

        let stores = try await CommandContext.openStores(database, configuration: configuration, retryQueue: true)
        let runtime = try await CommandContext.engineRuntime(configuration, on: stores)
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        let backend: any LookupBackend
        if let hook = block.hookURL, !hook.isEmpty {
            do {
                backend = try ServerBackend(
                    hookURL: hook,
                    apiKey: block.apiKey ?? "",
                    client: client,
                    api: ClientAPI.detect(apiKey: block.apiKey, option: block.clientAPI)
                )
            } catch {
                throw CommandFailure(error.description)
            }
        } else {
            backend = EmbeddedBackend(engine: runtime.engine)
        }
        let tail = AlertsTail(
            settings: settings,
            enricher: AlertEnricher(
                options: options,
                suppressor: runtime.engine.suppressor,
                backend: backend,
                socketPath: settings.socketPath
            ),
            log: { message in
                FileHandle.standardError.write(Data("\(Self.timestamp()) verdict tail: \(message)\n".utf8))
            }
        )
        // Alerts custom-verdict and verdict-ar kept for later are retried here too.
        let drain = RetryDrainService(
            drainer: RetryDrainer(
                backend: backend,
                suppressor: runtime.engine.suppressor,
                queue: try CommandContext.retryQueue(of: stores),
                settings: configuration.retry
            ),
            log: { line in FileHandle.standardError.write(Data("\(Self.timestamp()) verdict tail: \(line)\n".utf8)) }
        )
        let refresh = LocalIntelligenceRefresh(
            runtime: runtime,
            store: stores.feeds,
            log: { line in FileHandle.standardError.write(Data("\(Self.timestamp()) verdict tail: \(line)\n".utf8)) }
        )
        var services: [any Service] = [tail, drain, refresh]
        var logger = Logger(label: "verdict.tail")
        logger.logLevel = .warning
        if let metricsPort {
            let router = Router()
            let engine = runtime.engine
            router.get("/metrics") { _, _ in tail.metricsText + (await engine.budgetMetrics()).prometheusText }
            services.append(
                Application(
                    router: router,
                    configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: metricsPort)),
                    logger: logger
                )
            )
        }
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        do {
            try await group.run()
        } catch {
            try? await client.shutdown()
            await runtime.shutdown()
            if let metricsPort, (error as? IOError)?.errnoCode == EADDRINUSE {
                throw CommandFailure(
                    "cannot serve metrics on 127.0.0.1:\(metricsPort): the port is in use; stop what listens there or choose another --metrics-port"
                )
            }
            throw CommandFailure("verdict tail stopped: \(error)")
        }
        try? await client.shutdown()
        await runtime.shutdown()
    }

    static func timestamp() -> String {
        let formatter = ISO8601DateFormatter()
        return formatter.string(from: Date())
    }
}
