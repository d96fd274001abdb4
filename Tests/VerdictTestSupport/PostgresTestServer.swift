import Foundation

/// The throwaway PostgreSQL server `.ci/run` starts on 127.0.0.1 (`VERDICT_TEST_POSTGRES_URL`, a superuser's
/// URL). Each test gets a database of its own, made and dropped with `psql`.
public enum PostgresTestServer {
    public static var adminURL: String? {
        let url = ProcessInfo.processInfo.environment["VERDICT_TEST_POSTGRES_URL"] ?? ""
        return url.isEmpty ? nil : url
    }

    /// Whether the PostgreSQL tests run: where the server is, or in CI, where its absence is a failure (the
    /// tests then fail saying so instead of passing without it).
    public static var shouldRun: Bool {
        adminURL != nil || ProcessInfo.processInfo.environment["CI"] != nil
    }

    public struct Unavailable: Error, CustomStringConvertible {
        public let description: String
    }

    /// A new empty database; returns its URL (the admin URL with the database's name).
    public static func freshDatabase() throws -> String {
        guard let adminURL else {
            throw Unavailable(
                description:
                    "VERDICT_TEST_POSTGRES_URL is not set: .ci/run starts a PostgreSQL server for these tests; run it, or set the variable to a superuser's postgres:// URL"
            )
        }
        let name = "verdict_test_" + UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: "")
        try psql(adminURL, "CREATE DATABASE \(name)")
        return url(adminURL, database: name)
    }

    /// Drops the database of `url`, closing what is still connected to it.
    public static func drop(_ url: String) {
        guard let adminURL, let name = URLComponents(string: url)?.path.dropFirst(), !name.isEmpty else { return }
        _ = try? psql(adminURL, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    }

    /// `url` with another database name.
    public static func url(_ url: String, database: String) -> String {
        guard var components = URLComponents(string: url) else { return url }
        components.path = "/" + database
        return components.string ?? url
    }

    /// Runs one SQL command with psql; returns what it printed (a query's value), trimmed.
    @discardableResult
    public static func psql(_ url: String, _ command: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/psql")
        process.arguments = [url, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", command]
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            throw Unavailable(description: "psql \(command) failed: \(text)")
        }
        return printed.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// A PostgreSQL server of one test's own (`scripts/test-postgres.sh`), which it may stop and start again
/// without disturbing the other tests' shared server.
public final class OwnPostgresServer: Sendable {
    public let url: String
    let folder: String
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/test-postgres.sh").path

    /// Whether this machine has PostgreSQL's server programs (CI installs them).
    public static var isInstalled: Bool { FileManager.default.fileExists(atPath: "/usr/lib/postgresql") }

    public init() throws {
        let printed = try Self.run("start", folder: nil)
        var values: [String: String] = [:]
        for line in printed.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            let name = line[..<equals].replacingOccurrences(of: "export ", with: "")
            values[name] = String(line[line.index(after: equals)...]).trimmingCharacters(
                in: CharacterSet(charactersIn: "'")
            )
        }
        guard let url = values["VERDICT_TEST_POSTGRES_URL"], let folder = values["VERDICT_TEST_POSTGRES_DIR"] else {
            throw PostgresTestServer.Unavailable(description: "test-postgres.sh start printed no server: \(printed)")
        }
        self.url = url
        self.folder = folder
    }

    /// Stops the server (its data kept), as a database restart or outage would.
    public func pause() async throws { try await Self.offThread { _ = try Self.run("pause", folder: self.folder) } }

    public func resume() async throws { try await Self.offThread { _ = try Self.run("resume", folder: self.folder) } }

    /// On a thread of its own: waiting for a process must not hold one of the few threads every task shares.
    static func offThread(_ work: @escaping @Sendable () throws -> Void) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            Thread { continuation.resume(with: Result { try work() }) }.start()
        }
    }

    public func stop() { _ = try? Self.run("stop", folder: folder) }

    /// Runs the script with its output in files: the server it starts inherits whatever descriptors the script
    /// had, so a pipe would never reach its end while the server runs.
    static func run(_ command: String, folder: String?) throws -> String {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("pg-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", #""$0" "$1" >"$2.out" 2>"$2.err" </dev/null"#, script, command, output]
        var environment = ProcessInfo.processInfo.environment
        if let folder { environment["VERDICT_TEST_POSTGRES_DIR"] = folder }
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        defer {
            try? FileManager.default.removeItem(atPath: output + ".out")
            try? FileManager.default.removeItem(atPath: output + ".err")
        }
        let printed = (try? String(contentsOfFile: output + ".out", encoding: .utf8)) ?? ""
        guard process.terminationStatus == 0 else {
            let text = (try? String(contentsOfFile: output + ".err", encoding: .utf8)) ?? ""
            throw PostgresTestServer.Unavailable(description: "test-postgres.sh \(command) failed: \(text)")
        }
        return printed
    }
}
