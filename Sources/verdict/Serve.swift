import ArgumentParser
import Foundation
import Hummingbird
import Logging
import NIOCore
import VerdictEngine
import VerdictSQLite
import VerdictServer
import VerdictSources
import VerdictStore
import VerdictWazuh

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the HTTP API: lookups with API keys and credits, usage, metrics, a web page.",
        discussion: """
            The first start on an empty store creates an API key named admin and writes it to admin-key (mode \
            0600) beside the database. SIGTERM or Ctrl-C lets requests in flight finish, then writes the last \
            usage counts and exits.
            """
    )

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0 picks a free one; the address is printed).")
    var port = 8080

    @Option(
        help: ArgumentHelp(
            "Where keys, credits, the cache and the source budgets live: postgres://user@host/db (shared by replicas) or sqlite:PATH; default: VERDICT_DATABASE_URL, else VERDICT_DATA_DIR.",
            valueName: "url"
        )
    )
    var database: String?

    @Option(help: ArgumentHelp("The YAML settings file (default: VERDICT_CONFIG).", valueName: "file"))
    var config: String?

    func run() async throws {
        let configuration = try await CommandContext.configuration(file: config)
        let stores = try await CommandContext.openStores(database, configuration: configuration, retryQueue: true)
        let accounts = stores.accounts
        var logger = Logger(label: "verdict.server")
        logger.logLevel = Logger.Level(rawValue: configuration.server.logLevel) ?? .info
        let runtime: EngineRuntime
        do {
            let storeLogger = logger
            runtime = try EngineRuntime(
                configuration: configuration,
                stores: stores,
                log: { message in
                    if message.hasPrefix("error: ") {
                        storeLogger.error("\(message.dropFirst(7))")
                    } else {
                        storeLogger.notice("\(message)")
                    }
                }
            )
        } catch let error as SettingError {
            throw CommandFailure(error.description)
        }
        try await CommandContext.prepare(runtime)

        // Keys live per database: saying which one at start answers "why is my key unknown?".
        CommandContext.writeOut(
            """
            verdict: data directory \(configuration.dataDirectory)
            verdict: database \(stores.location) (API keys, credits, usage, the cache and the source budgets)

            """
        )
        var offSources: [String: String] = [:]
        for source in configuration.sources { if let reason = source.offReason { offSources[source.name] = reason } }
        let host = host
        // The first key's file goes beside a SQLite file, else into the data directory.
        let keyFolder =
            stores.location.hasPrefix("postgres://")
            ? configuration.dataDirectory : (stores.location as NSString).deletingLastPathComponent
        let application = buildApplication(
            ServerComponents(
                engine: runtime.engine,
                accounts: accounts,
                settings: configuration.server,
                offSources: offSources,
                overrides: stores.overrides,
                feeds: stores.feeds,
                history: stores.history
            ),
            host: host,
            port: port,
            logger: logger,
            // Alerts the integratord path kept for later, when this server shares their data directory.
            services: [
                RetryDrainService(
                    drainer: RetryDrainer(
                        backend: EmbeddedBackend(engine: runtime.engine),
                        suppressor: runtime.engine.suppressor,
                        queue: try CommandContext.retryQueue(of: stores),
                        settings: configuration.retry
                    ),
                    log: { [logger] line in logger.info("retry queue: \(line)") }
                ),
                LocalIntelligenceRefresh(
                    runtime: runtime,
                    store: stores.feeds,
                    log: { [logger] line in logger.notice("\(line)") }
                ),
            ],
            onServerRunning: { channel in
                // Only once the port is ours: a start that cannot listen makes no key.
                await Self.createAdminKeyIfNone(accounts, folder: keyFolder)
                let bound = channel.localAddress?.port ?? 0
                CommandContext.writeOut("verdict: listening on http://\(host):\(bound)\n")
            }
        )
        do {
            try await application.runService()
        } catch {
            await runtime.shutdown()
            await stores.close()
            throw Self.failure(error, host: host, port: port)
        }
        await runtime.shutdown()
        await stores.close()
    }

    /// The first key goes to a file only this user can read, next to the database: standard output often ends
    /// in a journal others can read.
    static func createAdminKeyIfNone(_ accounts: any AccountStore, folder: String) async {
        do {
            let file = (folder.isEmpty ? "." : folder) + "/admin-key"
            guard let first = try await createFirstKeyIfNone(accounts) else { return }
            let descriptor = PrivateFile.open(file, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
            guard descriptor >= 0 else {
                let reason = PrivateFile.reason(errno)
                _ = try? await accounts.revokeKey(named: "admin")
                FileHandle.standardError.write(
                    Data(
                        "verdict: could not write the first API key to \(file) (\(reason)), so it was revoked; make one with `verdict keys create --name admin --plan enterprise`\n"
                            .utf8
                    )
                )
                return
            }
            fchmod(descriptor, 0o600)
            let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
            handle.write(Data((first.secret + "\n").utf8))
            CommandContext.writeOut(
                """
                No API keys yet: created the key "admin" (enterprise plan, no credit limit) and wrote it to
                \(file) (mode 0600, this user only). Read it, keep it secret, then delete the file; make more keys
                with `verdict keys create`.

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
