import VerdictPostgres
import VerdictSQLite
import VerdictStore

/// Which database holds the shared stores, from `--database`, `VERDICT_DATABASE_URL` or `database:` in the
/// settings: nothing (the data directory's SQLite file), `sqlite:PATH` (a directory or a `.sqlite` file), or
/// `postgres://…`.
public enum DatabaseLocation: Sendable, Equatable {
    case sqliteDirectory(String)
    case sqliteFile(String)
    case postgres(PostgresSettings)

    public init(_ text: String?, dataDirectory: String) throws {
        guard let text, !text.isEmpty else {
            self = .sqliteDirectory(dataDirectory)
            return
        }
        if PostgresSettings.isURL(text) {
            self = .postgres(try PostgresSettings(url: text))
            return
        }
        var path = text
        for scheme in ["sqlite://", "sqlite:"] where text.lowercased().hasPrefix(scheme) {
            path = String(text.dropFirst(scheme.count))
            break
        }
        guard !path.isEmpty, !path.contains("://") else {
            throw StoreError(
                "the database \"\(PostgresSettings.redacted(text))\" is neither sqlite:PATH nor postgres://user@host/name; give a directory, a .sqlite file or a PostgreSQL URL"
            )
        }
        self = path.hasSuffix(".sqlite") || path.hasSuffix(".db") ? .sqliteFile(path) : .sqliteDirectory(path)
    }
}

/// Opens the shared stores of a database, with the retry queue beside them.
public enum StoreFactory {
    /// - Parameters:
    ///   - singleConnection: one connection instead of a pool, for a process that lives for one alert.
    ///   - retryQueueDirectory: where the retry queue is (the alerts are this node's: always the data directory's
    ///     SQLite file, in the stores' own pool when they are in that file); nil for no queue.
    ///   - log: where the stores' failures are told.
    public static func open(
        _ location: DatabaseLocation,
        singleConnection: Bool = false,
        retryQueueDirectory: String? = nil,
        log: @escaping @Sendable (String) -> Void
    ) async throws -> Stores {
        switch location {
        case .sqliteDirectory(let directory):
            let database = try await VerdictDatabase.open(directory: directory, singleConnection: singleConnection)
            return try await sqlite(database, retryQueueDirectory: retryQueueDirectory, singleConnection, log)
        case .sqliteFile(let file):
            let database = try await VerdictDatabase.open(file: file, singleConnection: singleConnection)
            return try await sqlite(database, retryQueueDirectory: retryQueueDirectory, singleConnection, log)
        case .postgres(let settings):
            let database = try await PostgresDatabase.open(
                settings,
                singleConnection: singleConnection,
                migrationTimeout: singleConnection ? .seconds(5) : .seconds(30)
            )
            var queue: (any RetryQueueStore)?
            if let retryQueueDirectory {
                do {
                    queue = SQLiteRetryQueue(
                        database: try await VerdictDatabase.open(
                            directory: retryQueueDirectory,
                            singleConnection: singleConnection
                        )
                    )
                } catch {
                    await database.close()
                    throw error
                }
            }
            return Stores(postgres: database, retryQueue: queue, log: log)
        }
    }

    static func sqlite(
        _ database: VerdictDatabase,
        retryQueueDirectory: String?,
        _ singleConnection: Bool,
        _ log: @escaping @Sendable (String) -> Void
    ) async throws -> Stores {
        var queue: (any RetryQueueStore)?
        if let retryQueueDirectory {
            // One pool per file per process (GRDB's rule): the queue shares the stores' when it is the same file.
            let file = retryQueueDirectory + "/verdict.sqlite"
            let same = database.path.map { standardized($0) == standardized(file) } ?? false
            queue = SQLiteRetryQueue(
                database: same
                    ? database
                    : try await VerdictDatabase.open(directory: retryQueueDirectory, singleConnection: singleConnection)
            )
        }
        return Stores(sqlite: database, retryQueue: queue, log: log)
    }

    static func standardized(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/") where part != "." {
            if part == "..", !parts.isEmpty { parts.removeLast() } else { parts.append(part) }
        }
        return (path.hasPrefix("/") ? "/" : "") + parts.joined(separator: "/")
    }
}
