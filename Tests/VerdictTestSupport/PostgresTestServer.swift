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
        try? psql(adminURL, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    }

    /// `url` with another database name.
    public static func url(_ url: String, database: String) -> String {
        guard var components = URLComponents(string: url) else { return url }
        components.path = "/" + database
        return components.string ?? url
    }

    /// Runs one SQL command with psql, as the admin.
    public static func psql(_ url: String, _ command: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/psql")
        process.arguments = [url, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", command]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            throw Unavailable(description: "psql \(command) failed: \(text)")
        }
    }
}
