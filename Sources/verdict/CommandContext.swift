import ArgumentParser
import Foundation
import VerdictCore
import VerdictEngine
import VerdictSources
import VerdictStore

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

    /// The store named by `--database` (`sqlite:PATH`, a directory or a `.sqlite` file), else the data directory.
    static func openDatabase(_ url: String?, configuration: EngineConfiguration) async throws -> VerdictDatabase {
        do {
            guard let url, !url.isEmpty else {
                return try await VerdictDatabase.open(directory: configuration.dataDirectory)
            }
            let lowered = url.lowercased()
            if lowered.hasPrefix("postgres://") || lowered.hasPrefix("postgresql://") {
                throw CommandFailure(
                    "--database: PostgreSQL is not available in this build; leave --database out to use SQLite in VERDICT_DATA_DIR"
                )
            }
            var path = url
            for scheme in ["sqlite://", "sqlite:"] where lowered.hasPrefix(scheme) {
                path = String(url.dropFirst(scheme.count))
                break
            }
            guard !path.isEmpty, !path.contains("://") else {
                throw CommandFailure("--database: \"\(url)\" is not sqlite:PATH; give a directory or a .sqlite file")
            }
            if path.hasSuffix(".sqlite") || path.hasSuffix(".db") { return try await VerdictDatabase.open(file: path) }
            return try await VerdictDatabase.open(directory: path)
        } catch let error as StoreError {
            throw CommandFailure(error.description)
        }
    }

    /// The engine on the store in the data directory (answers and source budgets); the store's failures are
    /// told on standard error.
    ///   - database: the store already open in this process (one pool per file per process), else the data
    ///     directory's.
    static func engineRuntime(_ configuration: EngineConfiguration, on database: VerdictDatabase? = nil) async throws
        -> EngineRuntime
    {
        do {
            let store: VerdictDatabase
            if let database {
                store = database
            } else {
                store = try await openDatabase(nil, configuration: configuration)
            }
            return try EngineRuntime(
                configuration: configuration,
                database: store,
                log: { message in FileHandle.standardError.write(Data("verdict: \(message)\n".utf8)) }
            )
        } catch let error as StoreError {
            throw CommandFailure(error.description)
        } catch let error as SettingError {
            throw CommandFailure(error.description)
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
