import ArgumentParser
import Foundation
import Hummingbird
import Logging
import NIOCore
import VerdictEngine
import VerdictServer
import VerdictStore

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the HTTP API: lookups with API keys and credits, usage, metrics, a web page.",
        discussion: """
            The first start on an empty store creates an API key named admin and prints it once. SIGTERM or \
            Ctrl-C lets requests in flight finish, then writes the last usage counts and exits.
            """
    )

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0 picks a free one; the address is printed).")
    var port = 8080

    @Option(
        help: ArgumentHelp(
            "Where keys, credits and the cache live: sqlite:PATH (a directory or a .sqlite file); default: VERDICT_DATA_DIR.",
            valueName: "url"
        )
    )
    var database: String?

    @Option(help: ArgumentHelp("The YAML settings file (default: VERDICT_CONFIG).", valueName: "file"))
    var config: String?

    func run() async throws {
        let configuration = try await CommandContext.configuration(file: config)
        let store = try CommandContext.openDatabase(database, configuration: configuration)
        let accounts = SQLiteAccountStore(database: store)
        let runtime: EngineRuntime
        do {
            runtime = try EngineRuntime(
                configuration: configuration,
                cache: TieredLookupCache(store: SQLiteLookupCache(database: store))
            )
        } catch let error as SettingError {
            throw CommandFailure(error.description)
        }

        var logger = Logger(label: "verdict.server")
        logger.logLevel = Logger.Level(rawValue: configuration.server.logLevel) ?? .info
        if let first = try await createFirstKeyIfNone(accounts) {
            CommandContext.writeOut(
                """
                No API keys yet: created the key "admin" (enterprise plan, no credit limit).
                It is shown only this once; keep it secret and make more with `verdict keys create`:
                \(first.secret)

                """
            )
        }
        var offSources: [String: String] = [:]
        for source in configuration.sources { if let reason = source.offReason { offSources[source.name] = reason } }
        let host = host
        let application = buildApplication(
            ServerComponents(
                engine: runtime.engine,
                accounts: accounts,
                settings: configuration.server,
                offSources: offSources
            ),
            host: host,
            port: port,
            logger: logger,
            onServerRunning: { channel in
                let bound = channel.localAddress?.port ?? 0
                CommandContext.writeOut("verdict: listening on http://\(host):\(bound)\n")
            }
        )
        do {
            try await application.runService()
        } catch {
            await runtime.shutdown()
            throw CommandFailure("the server stopped: \(error)")
        }
        await runtime.shutdown()
    }
}
