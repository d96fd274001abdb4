import ArgumentParser
import Foundation
import VerdictCore
import VerdictEngine
import VerdictRelay
import VerdictSQLite
import VerdictSources
import VerdictStore
import VerdictStoreFactory

/// A failure the user can fix: printed as one line, exit code 2.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}

/// What every subcommand reads from the environment and the file system.
enum CommandContext {
    static var environment: [String: String] { ProcessInfo.processInfo.environment }

    /// Suppression from `VERDICT_FEEDS_DIR`, or the built-in lists when it is not set.
    static func suppressor() throws -> Suppressor {
        guard let path = environment["VERDICT_FEEDS_DIR"], !path.isEmpty else { return Suppressor() }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CommandFailure(
                "VERDICT_FEEDS_DIR=\(path) is not a directory; create it or unset VERDICT_FEEDS_DIR"
            )
        }
        do {
            return try FeedsDirectory(directory: URL(fileURLWithPath: path)).suppressor
        } catch {
            throw CommandFailure("VERDICT_FEEDS_DIR: \(error)")
        }
    }

    /// A file to read, or standard input for `-`.
    static func open(_ path: String) throws -> FileHandle {
        if path == "-" { return FileHandle.standardInput }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw CommandFailure("cannot open \(path): no such file")
        }
        guard !isDirectory.boolValue else { throw CommandFailure("cannot read \(path): it is a directory") }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw CommandFailure("cannot open \(path): permission denied")
        }
        return handle
    }

    static func readAll(_ handle: FileHandle, name: String) throws -> Data {
        do {
            return try handle.readToEnd() ?? Data()
        } catch {
            throw CommandFailure("cannot read \(name): \(error.localizedDescription)")
        }
    }

    static func writeOut(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    /// The settings: `VERDICT_*` variables over the YAML file.
    static func configuration(file: String?) async throws -> EngineConfiguration {
        do {
            return try await EngineConfiguration.load(environment: environment, configFile: file)
        } catch let error as SettingError {
            throw CommandFailure(error.description)
        }
    }

    /// `--database`'s help, the same on every command that opens the stores.
    static let databaseHelp = ArgumentHelp(
        "postgres://user@host/db (shared by machines; ?passfile=FILE keeps the password out of the command line) or sqlite:PATH; default: VERDICT_DATABASE_URL, else VERDICT_DATA_DIR.",
        valueName: "url"
    )

    /// The shared stores of `--database`, else `VERDICT_DATABASE_URL` (`database:` in the settings), else the
    /// data directory's SQLite file. Their failures are told on standard error.
    ///   - retryQueue: also open the retry queue (always in the data directory: its alerts are this machine's).
    static func openStores(_ url: String?, configuration: EngineConfiguration, retryQueue: Bool = false) async throws
        -> Stores
    {
        do {
            let location = try DatabaseLocation(
                url ?? configuration.databaseURL,
                dataDirectory: configuration.dataDirectory
            )
            return try await StoreFactory.open(
                location,
                retryQueueDirectory: retryQueue ? configuration.dataDirectory : nil,
                log: { message in FileHandle.standardError.write(Data("verdict: \(message)\n".utf8)) }
            )
        } catch let error as StoreError {
            throw CommandFailure(error.description)
        }
    }

    /// The retry queue that `openStores(_:configuration:retryQueue: true)` opened beside the stores.
    static func retryQueue(of stores: Stores) throws -> any RetryQueueStore {
        guard let queue = stores.retryQueue else {
            throw CommandFailure("the retry queue in VERDICT_DATA_DIR was not opened; this is a bug, please report it")
        }
        return queue
    }

    /// The engine on the shared stores (answers and source budgets).
    static func engineRuntime(_ configuration: EngineConfiguration, on stores: Stores) async throws -> EngineRuntime {
        do {
            let runtime = try EngineRuntime(
                configuration: configuration,
                stores: stores,
                log: { message in FileHandle.standardError.write(Data("verdict: \(message)\n".utf8)) }
            )
            try await prepare(runtime)
            return runtime
        } catch let error as SettingError {
            throw CommandFailure(error.description)
        }
    }

    /// The overrides and the feeds directory read in; a list that cannot be read fails the command.
    static func prepare(_ runtime: EngineRuntime) async throws {
        do {
            try await runtime.prepare()
        } catch let error as SettingError {
            throw CommandFailure(error.description)
        } catch let error as StoreError {
            throw CommandFailure(error.description)
        } catch {
            throw CommandFailure("cannot read the overrides and the feed index from the store: \(error)")
        }
    }

    /// The Wazuh directory for commands run by hand: `--wazuh-home`, else `VERDICT_WAZUH_HOME`, else `/var/ossec`.
    static func wazuhHome(_ option: String?) -> String {
        if let option { return option }
        if let home = environment["VERDICT_WAZUH_HOME"], !home.isEmpty { return home }
        return "/var/ossec"
    }

    /// `2026-11-22`, UTC.
    static func day(_ date: Date) -> String {
        String(ISO8601DateFormatter().string(from: date).prefix(10))
    }

    /// Left-aligned columns separated by two spaces.
    static func table(_ rows: [[String]]) -> String {
        let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }
}

/// `--database` and `--config`, for the commands that work on the stores.
struct StoreOptions: ParsableArguments {
    @Option(help: CommandContext.databaseHelp)
    var database: String?

    @Option(help: ArgumentHelp("The YAML settings file (default: VERDICT_CONFIG).", valueName: "file"))
    var config: String?

    func configuration() async throws -> EngineConfiguration {
        try await CommandContext.configuration(file: config)
    }

    func stores(_ configuration: EngineConfiguration) async throws -> Stores {
        try await CommandContext.openStores(database, configuration: configuration)
    }

    /// The key store, after saying which database it is: keys live per database, and a server started on
    /// another one would not know them.
    func accounts() async throws -> any AccountStore {
        let stores = try await stores(try await configuration())
        CommandContext.writeOut("database: \(stores.location)\n")
        return stores.accounts
    }
}
