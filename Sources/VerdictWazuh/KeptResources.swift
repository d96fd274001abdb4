import AsyncHTTPClient
import Foundation
import Synchronization
import VerdictEngine
import VerdictRelay
import VerdictSQLite
import VerdictSources
import VerdictStore
import VerdictStoreFactory

/// What the warm engine keeps from one run to the next, so that a run pays for its alert and not for opening the
/// database and building the engine: the engine and its stores per settings, and client mode's HTTP client and
/// retry queues. A run still sees what a cold run would. Its settings file, the feeds directory's suppression
/// lists and the SQLite files are compared on every run, and a change opens them anew. The overrides and the
/// feeds directory's lists are read again every run. As in `verdict tail`, an answer stays in the memory cache
/// for its lifetime.
final class KeptResources: Sendable {
    /// The engines, one per settings and log (the stores' failures go to the log of the run that opened them).
    let engines: KeptSet<EngineSlot, KeptEngine>
    /// Client mode's retry queues, by data directory.
    let retryQueues: KeptSet<String, any RetryQueueStore>
    /// Client mode's one HTTP client: its connections to the Verdict server stay open between runs.
    let client: HTTPClient

    struct EngineSlot: Hashable, Sendable {
        var environment: [String: String]
        var log: String
    }

    struct KeptEngine: Sendable {
        var stores: Stores
        var runtime: EngineRuntime

        func close() async {
            await runtime.shutdown()
            await stores.close()
        }
    }

    /// Runs with more different settings than this (tests, not a manager) close the ones kept before.
    static let limit = 16

    init() {
        engines = KeptSet(limit: Self.limit) { await $0.close() }
        retryQueues = KeptSet(limit: Self.limit) { _ in }
        client = WazuhRunContext.clientModeHTTPClient()
    }

    /// Closes all (the engine is leaving, its runs are done).
    func close() async {
        await engines.closeAll()
        await retryQueues.closeAll()
        try? await client.shutdown()
    }

    /// What a kept engine for these settings must still match: the settings file, the feeds directory's
    /// suppression lists (the engine's suppressor is built from them), and each SQLite file it has open (a data
    /// directory removed and made again is a new database, not the old file's unlinked copy).
    static func version(of configuration: EngineConfiguration, settingsFile: String?) throws -> String {
        var parts = [LoadedSettings.identity(ofFile: settingsFile)]
        if let feeds = configuration.feedsDirectory {
            parts.append(FeedsDirectory.fingerprint(of: URL(fileURLWithPath: feeds)))
        }
        switch try DatabaseLocation(configuration.databaseURL, dataDirectory: configuration.dataDirectory) {
        case .sqliteDirectory(let directory): parts.append(PlainPath.fileIdentity(directory + "/verdict.sqlite"))
        case .sqliteFile(let file): parts.append(PlainPath.fileIdentity(file))
        case .postgres: break
        }
        parts.append(queueVersion(directory: configuration.dataDirectory))
        return parts.joined(separator: "\n")
    }

    /// What a kept retry queue must still match: its file (not its size or time, which every write changes).
    static func queueVersion(directory: String) -> String {
        PlainPath.fileIdentity(directory + "/verdict.sqlite")
    }
}

/// Values opened once and used by many runs at a time, each under a key and a version. A run leases the value;
/// a different version of its key, too many keys, or a run that found the value broken retire it, and it is
/// closed when its last run ends.
final class KeptSet<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private let limit: Int
    private let closing: @Sendable (Value) async -> Void
    private let kept = Mutex<[Key: Entry]>([:])

    init(limit: Int, close: @escaping @Sendable (Value) async -> Void) {
        self.limit = limit
        self.closing = close
    }

    /// One run's use of a kept value. Call `end()` when the run is done with it.
    struct Lease: Sendable {
        let value: Value
        /// Whether this run opened it (it has just been read in full, nothing to refresh).
        let isNew: Bool
        fileprivate let entry: Entry

        func end() { entry.leave() }

        /// Ends the lease and opens a new value for the next run: this one failed in a way that opening again
        /// may mend (the database went away).
        func discard() {
            entry.retire()
            entry.leave()
        }
    }

    /// The value kept for `key` at `version`, opened by `open` when there is none (runs arriving meanwhile wait for
    /// the same opening). An opening that fails is thrown to its runs, and the next run tries again.
    func lease(_ key: Key, version: String, open: @escaping @Sendable () async throws -> Value) async throws -> Lease {
        let (entry, isNew) = kept.withLock { kept -> (Entry, Bool) in
            if let entry = kept[key], entry.version == version, entry.enter() { return (entry, false) }
            kept[key]?.retire()
            if kept.count >= limit {
                for entry in kept.values { entry.retire() }
                kept.removeAll()
            }
            let entry = Entry(version: version, opening: Task { try await open() }, close: closing)
            _ = entry.enter()
            kept[key] = entry
            return (entry, true)
        }
        do {
            return Lease(value: try await entry.opening.value, isNew: isNew, entry: entry)
        } catch {
            kept.withLock { kept in if kept[key] === entry { kept[key] = nil } }
            entry.retire()
            entry.leave()
            throw error
        }
    }

    /// Closes every kept value; for when no run uses them any more.
    func closeAll() async {
        let entries = kept.withLock { kept in
            defer { kept.removeAll() }
            return Array(kept.values)
        }
        for entry in entries { await entry.retire()?.value }
    }

    fileprivate final class Entry: Sendable {
        let version: String
        let opening: Task<Value, any Error>
        let close: @Sendable (Value) async -> Void
        private let state = Mutex(State())

        struct State {
            var users = 0
            var retired = false
            var closed: Task<Void, Never>?
        }

        init(version: String, opening: Task<Value, any Error>, close: @escaping @Sendable (Value) async -> Void) {
            self.version = version
            self.opening = opening
            self.close = close
        }

        /// Counts one more run, unless the entry is retired.
        func enter() -> Bool {
            state.withLock { state in
                guard !state.retired else { return false }
                state.users += 1
                return true
            }
        }

        func leave() {
            state.withLock { state in
                state.users -= 1
                _ = closeIfUnused(&state)
            }
        }

        /// No new runs; closed once the ones under way are done. Returns the closing when it starts now.
        @discardableResult
        func retire() -> Task<Void, Never>? {
            state.withLock { state in
                state.retired = true
                return closeIfUnused(&state)
            }
        }

        private func closeIfUnused(_ state: inout State) -> Task<Void, Never>? {
            guard state.retired, state.users == 0, state.closed == nil else { return state.closed }
            let closed = Task { [opening, close] in
                if let value = try? await opening.value { await close(value) }
            }
            state.closed = closed
            return closed
        }
    }
}
