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
        // Keys live per database: saying which one at start answers "why is my key unknown?".
        CommandContext.writeOut(
            """
            verdict: data directory \(configuration.dataDirectory)
            verdict: database \(store.path ?? "in memory") (API keys, credits, usage and the cache)

            """
        )
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
                // Only once the port is ours: a start that cannot listen makes no key.
                await Self.createAdminKeyIfNone(accounts)
                let bound = channel.localAddress?.port ?? 0
                CommandContext.writeOut("verdict: listening on http://\(host):\(bound)\n")
            }
        )
        do {
            try await application.runService()
        } catch {
            await runtime.shutdown()
            throw Self.failure(error, host: host, port: port)
        }
        await runtime.shutdown()
    }

    static func createAdminKeyIfNone(_ accounts: any AccountStore) async {
        do {
            guard let first = try await createFirstKeyIfNone(accounts) else { return }
            CommandContext.writeOut(
                """
                No API keys yet: created the key "admin" (enterprise plan, no credit limit).
                It is shown only this once; keep it secret and make more with `verdict keys create`:
                \(first.secret)

                """
            )
        } catch {
            FileHandle.standardError.write(Data("verdict: could not create the first API key: \(error)\n".utf8))
        }
    }

    /// Why the server stopped, in words that say what to do.
    static func failure(_ error: any Error, host: String, port: Int) -> CommandFailure {
        if let error = error as? IOError {
            switch error.errnoCode {
            case EADDRINUSE:
                return CommandFailure(
                    "cannot listen on \(host):\(port): the port is in use (another verdict serve, or another program); stop it or choose another with --port"
                )
            case EACCES:
                return CommandFailure(
                    "cannot listen on \(host):\(port): permission denied (ports below 1024 need privileges); choose a port above 1023 with --port"
                )
            case EADDRNOTAVAIL:
                return CommandFailure(
                    "cannot listen on \(host):\(port): \(host) is not an address of this machine; give one with --host"
                )
            default: break
            }
        }
        return CommandFailure("the server stopped: \(error)")
    }
}
