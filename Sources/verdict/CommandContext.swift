import ArgumentParser
import Foundation
import VerdictCore
import VerdictSources

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
}
