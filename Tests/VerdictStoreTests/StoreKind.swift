import Foundation
import Testing
import VerdictPostgres
import VerdictSQLite
import VerdictStore
import VerdictTestSupport

/// The databases every store contract runs on. PostgreSQL's is the server `.ci/run` starts
/// (`VERDICT_TEST_POSTGRES_URL`); without it (a plain `swift test` on a laptop) its cases are left out, and in
/// CI they fail saying the server is missing.
enum StoreKind: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case memory
    case sqlite
    case postgres

    var testDescription: String { rawValue }

    /// The kinds with an implementation of the store, PostgreSQL's only where its tests run.
    static func kinds(_ wanted: [StoreKind]) -> [StoreKind] {
        wanted.filter { $0 != .postgres || PostgresTestServer.shouldRun }
    }

    /// A database of this kind of its own, and how to remove it.
    struct Database: Sendable {
        var sqlite: VerdictDatabase?
        var postgres: PostgresDatabase?
        /// The SQLite directory or the PostgreSQL URL, for more connections to the same database.
        var location = ""
        let cleanUp: @Sendable () -> Void

        /// Another process's view of the same database: a pool of its own.
        func another() async throws -> Database {
            if sqlite != nil {
                return Database(sqlite: try VerdictDatabase(directory: location), location: location, cleanUp: {})
            }
            if postgres != nil {
                let database = try await PostgresDatabase.open(
                    try PostgresSettings(url: location),
                    callTimeout: .seconds(30)
                )
                return Database(postgres: database, location: location, cleanUp: { database.closeNow() })
            }
            return self
        }
    }

    func database() async throws -> Database {
        switch self {
        case .memory:
            return Database(cleanUp: {})
        case .sqlite:
            let directory = SQLiteLookupCacheTests.temporaryDirectory()
            return Database(
                sqlite: try VerdictDatabase(directory: directory),
                location: directory,
                cleanUp: { try? FileManager.default.removeItem(atPath: directory) }
            )
        case .postgres:
            let url = try PostgresTestServer.freshDatabase()
            let database = try await PostgresDatabase.open(try PostgresSettings(url: url), callTimeout: .seconds(30))
            return Database(
                postgres: database,
                location: url,
                cleanUp: {
                    database.closeNow()
                    PostgresTestServer.drop(url)
                }
            )
        }
    }
}
