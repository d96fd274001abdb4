import AsyncHTTPClient
import Dispatch
import Foundation
import Synchronization
import VerdictCore
import VerdictEngine
import VerdictRelay
import VerdictSQLite
import VerdictSources
import VerdictStore
import VerdictStoreFactory

#if canImport(Glibc)
import Glibc
#endif

/// The last line of defence for the time budget: if anything (a locked database, a stuck resolver) still
/// runs `grace` after the budget, log it and leave. integratord and execd wait for us with no timeout.
enum HardDeadline {
    /// - finishEarly: set when the run is not the whole process (`WazuhRunContext.finishEarly`).
    static func arm(after seconds: Double, log: IntegrationLog, finishEarly: (@Sendable (Int32) -> Bool)?) {
        let message = "error: still running \(Int(seconds)) s after starting; gave up so that Wazuh is not held up"
        let code = IntegrationFailure.Kind.lookupFailed.rawValue
        guard let finishEarly else {
            let thread = Thread {
                Thread.sleep(forTimeInterval: seconds)
                log.write(message)
                _exit(code)
            }
            thread.start()
            return
        }
        // A timer rather than a sleeping thread: the engine runs one alert after another, each arming one.
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) {
            if finishEarly(code) { log.write(message) }
        }
    }
}

/// Settings already read by this process, so that the warm engine reads them once rather than for every alert
/// (swift-configuration's reading is most of a warm run's work). Keyed by all that `EngineConfiguration.load`
/// reads: the environment, and the settings file as it is on disk now (a changed file is read again).
enum LoadedSettings {
    struct Key: Hashable {
        var environment: [String: String]
        var settingsFile: String
    }

    /// Runs with more different settings than this (tests, not a manager) start the cache again.
    static let kept = 16
    static let loaded = Mutex<[Key: EngineConfiguration]>([:])

    /// The file's path, device, inode, size and modification time; "" when no file is named.
    static func identity(ofFile path: String?) -> String {
        guard let path, !path.isEmpty else { return "" }
        var status = stat()
        guard stat(path, &status) == 0 else { return "missing " + path }
        return
            "\(path) \(status.st_dev) \(status.st_ino) \(status.st_size) \(status.st_mtim.tv_sec).\(status.st_mtim.tv_nsec)"
    }
}

/// Everything a run needs from the machine: the Wazuh home, the environment, the clock.
public struct WazuhRunContext: Sendable {
    public var home: String
    public var environment: [String: String]
    public var started: ContinuousClock.Instant
    /// Set when the run is not the whole process (in the warm engine): at the hard deadline it ends the run with
    /// that exit code, answering the relay, instead of exiting; false when the run had finished already.
    public var finishEarly: (@Sendable (Int32) -> Bool)?
    /// What the warm engine keeps between its runs; nil in a run that is the whole process.
    var kept: KeptResources?

    public init(
        home: String,
        environment: [String: String],
        started: ContinuousClock.Instant = .now,
        finishEarly: (@Sendable (Int32) -> Bool)? = nil
    ) {
        self.home = home
        self.environment = environment
        self.started = started
        self.finishEarly = finishEarly
    }

    var socketPath: String { home + "/queue/sockets/queue" }

    /// Settings for embedded mode: `<home>/etc/verdict.yaml` (when present) and `VERDICT_*` variables, with the
    /// cache in `<home>/var/verdict` unless `VERDICT_DATA_DIR` says otherwise.
    func configuration() async throws -> EngineConfiguration {
        let environment = settingsEnvironment
        let key = LoadedSettings.Key(
            environment: environment,
            settingsFile: LoadedSettings.identity(ofFile: environment["VERDICT_CONFIG"])
        )
        if let loaded = LoadedSettings.loaded.withLock({ $0[key] }) { return loaded }
        do {
            let configuration = try await EngineConfiguration.load(environment: environment)
            LoadedSettings.loaded.withLock { loaded in
                if loaded.count >= LoadedSettings.kept { loaded.removeAll() }
                loaded[key] = configuration
            }
            return configuration
        } catch let error as SettingError {
            throw IntegrationFailure(.badSettings, error.description)
        }
    }

    /// The environment the settings are read from: the run's, with the home's settings file and data directory.
    var settingsEnvironment: [String: String] {
        var environment = environment
        let settingsFile = home + "/etc/verdict.yaml"
        if (environment["VERDICT_CONFIG"] ?? "").isEmpty, FileManager.default.fileExists(atPath: settingsFile) {
            environment["VERDICT_CONFIG"] = settingsFile
        }
        if (environment["VERDICT_DATA_DIR"] ?? "").isEmpty { environment["VERDICT_DATA_DIR"] = home + "/var/verdict" }
        return environment
    }

    /// Client mode's HTTP client. One request and a short budget: a server that refuses is told at once (the
    /// alert is kept for later), not retried with backoff until the budget is gone, which would hold integratord
    /// up.
    static func clientModeHTTPClient() -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// What one run looks alerts up with: the backend, the suppression, and the retry queue (nil when the data
    /// directory cannot hold one: then a failed lookup is only logged, as before).
    struct Backend {
        var lookup: any LookupBackend
        var suppressor: Suppressor
        var queue: (any RetryQueueStore)?
        var retry: RetrySettings
    }

    /// Runs `body` with a lookup backend: a Verdict server when `serverURL` is set, the engine otherwise; and
    /// releases what it opened. Both modes keep their retry queue in the data directory.
    ///   - loaded: the settings when the caller has read them already.
    func withBackend<T>(
        serverURL: String?,
        apiKey: String,
        api: ClientAPI = .verdict,
        loaded: EngineConfiguration? = nil,
        log: IntegrationLog,
        _ body: (Backend) async throws -> T
    ) async throws -> T {
        if let serverURL, !serverURL.isEmpty {
            // Client mode needs no settings to look up; without readable ones it simply has no queue.
            var configuration = loaded
            var queue: (any RetryQueueStore)?
            var queueLease: KeptSet<String, any RetryQueueStore>.Lease?
            do {
                if configuration == nil { configuration = try await self.configuration() }
                if let directory = configuration?.dataDirectory {
                    let open = { @Sendable () async throws -> any RetryQueueStore in
                        SQLiteRetryQueue(
                            database: try await VerdictDatabase.open(directory: directory, singleConnection: true)
                        )
                    }
                    if let kept {
                        queueLease = try await kept.retryQueues.lease(
                            directory,
                            version: KeptResources.queueVersion(directory: directory),
                            open: open
                        )
                        queue = queueLease?.value
                    } else {
                        queue = try await open()
                    }
                }
            } catch {
                log.write("error: no retry queue, so a failed lookup is not kept: \(error)")
            }
            defer { queueLease?.end() }
            let client = kept?.client ?? Self.clientModeHTTPClient()
            do {
                let backend = try ServerBackend(hookURL: serverURL, apiKey: apiKey, client: client, api: api)
                let value = try await body(
                    Backend(
                        lookup: backend,
                        suppressor: Suppressor(),
                        queue: queue,
                        retry: configuration?.retry ?? RetrySettings()
                    )
                )
                if kept == nil { try? await client.shutdown() }
                return value
            } catch {
                if kept == nil { try? await client.shutdown() }
                throw error
            }
        }
        let configuration: EngineConfiguration
        if let loaded { configuration = loaded } else { configuration = try await self.configuration() }
        let engine: KeptResources.KeptEngine
        var lease: KeptSet<KeptResources.EngineSlot, KeptResources.KeptEngine>.Lease?
        do {
            if let kept {
                let environment = settingsEnvironment
                let version = try KeptResources.version(of: configuration, settingsFile: environment["VERDICT_CONFIG"])
                let leased = try await kept.engines.lease(
                    KeptResources.EngineSlot(environment: environment, log: log.path),
                    version: version
                ) { try await Self.openEngine(configuration, log: log) }
                lease = leased
                engine = leased.value
                // What a new engine has just read: the overrides, and the feeds directory if it changed.
                if !leased.isNew { try await engine.runtime.refresh() }
            } else {
                engine = try await Self.openEngine(configuration, log: log)
            }
        } catch let error as StoreError where error.isUnavailable && configuration.databaseURL != nil {
            // The shared database is down or restarting: the alert is kept in this node's queue, not lost.
            lease?.discard()
            return try await withUnreachableDatabase(error, configuration: configuration, log: log, body)
        } catch let error as StoreError {
            lease?.end()
            throw IntegrationFailure(.badSettings, error.description)
        } catch let error as SettingError {
            lease?.end()
            throw IntegrationFailure(.badSettings, error.description)
        } catch {
            lease?.end()
            throw error
        }
        do {
            let value = try await body(
                Backend(
                    lookup: EmbeddedBackend(engine: engine.runtime.engine),
                    suppressor: engine.runtime.engine.suppressor,
                    queue: engine.stores.retryQueue,
                    retry: configuration.retry
                )
            )
            await release(engine, lease)
            return value
        } catch {
            await release(engine, lease)
            throw error
        }
    }

    /// The stores and the engine on them, read in full. The store's failures go to the run's log. The database is
    /// `database:` in verdict.yaml (PostgreSQL shared by every node), else the data directory. One connection, in
    /// the warm engine too: a SQLite pool's opening sets the journal mode, which fails while per-alert processes
    /// open the file, and a run needs the database for a few short queries.
    static func openEngine(
        _ configuration: EngineConfiguration,
        log: IntegrationLog
    ) async throws -> KeptResources.KeptEngine {
        let stores = try await StoreFactory.open(
            try DatabaseLocation(configuration.databaseURL, dataDirectory: configuration.dataDirectory),
            singleConnection: true,
            retryQueueDirectory: configuration.dataDirectory,
            log: { message in log.write(message) }
        )
        let runtime: EngineRuntime
        do {
            runtime = try EngineRuntime(configuration: configuration, stores: stores, log: { log.write($0) })
        } catch {
            await stores.close()
            throw error
        }
        let engine = KeptResources.KeptEngine(stores: stores, runtime: runtime)
        do {
            try await runtime.prepare()
        } catch {
            await engine.close()
            throw error
        }
        return engine
    }

    /// Ends a run's use of its engine: closes it, unless the warm engine keeps it.
    private func release(
        _ engine: KeptResources.KeptEngine,
        _ lease: KeptSet<KeptResources.EngineSlot, KeptResources.KeptEngine>.Lease?
    ) async {
        if let lease { lease.end() } else { await engine.close() }
    }

    /// Enriches one alert (embedded or client mode) and writes its one log line. Verdict's own events are
    /// skipped before any backend is opened. An alert nobody could answer is kept in the retry queue (exit 0,
    /// one `deferred` event); an alert that was answered lets this run retry a few queued ones in what is left
    /// of its budget.
    func enrich(
        _ alert: JSONValue,
        options: IntegrationOptions,
        serverURL: String?,
        apiKey: String,
        deadline: ContinuousClock.Instant,
        log: IntegrationLog,
        configuration: EngineConfiguration? = nil
    ) async throws {
        let alertContext = AlertContext(alert: alert)
        let described =
            "alert \(alertContext.alertID ?? "?") rule \(alertContext.ruleID ?? "?") agent \(alertContext.agentID ?? "000")"
        if alertContext.isVerdictEvent {
            log.write("\(described): skipped: the alert is a Verdict event (loop guard)")
            return
        }
        let socketPath = socketPath
        let home = self.home
        let api = ClientAPI.detect(apiKey: apiKey, option: options.api)
        try await withBackend(serverURL: serverURL, apiKey: apiKey, api: api, loaded: configuration, log: log) {
            backend in
            let enricher = AlertEnricher(
                options: options,
                suppressor: backend.suppressor,
                backend: backend.lookup,
                socketPath: socketPath
            )
            guard let queue = backend.queue else {
                let summary = try await enricher.enrich(alert, deadline: deadline)
                log.write(
                    "\(described) [\(backend.lookup.mode)]: \(summary.description) in \((ContinuousClock.now - started).milliseconds) ms"
                )
                return
            }
            var raw = JSONWriter()
            raw.value(alert)
            let outcome = try await RetryingEnricher(
                enricher: enricher,
                queue: queue,
                settings: backend.retry,
                home: home,
                optionsJSON: options.json
            ).enrich(alert, raw: raw.bytes, deadline: deadline)
            let elapsed = (ContinuousClock.now - started).milliseconds
            if let reason = outcome.deferredBecause {
                var line =
                    "\(described) [\(backend.lookup.mode)]: deferred, will retry (\(reason)); \(outcome.summary.description); \(outcome.queued) alerts queued"
                if outcome.dropped > 0 {
                    line +=
                        "; the queue was full (retry.max_alerts \(backend.retry.maxAlerts)): dropped the \(outcome.dropped) oldest"
                }
                log.write(line + " in \(elapsed) ms")
                return
            }
            log.write("\(described) [\(backend.lookup.mode)]: \(outcome.summary.description) in \(elapsed) ms")
            guard backend.retry.perRun > 0 else { return }
            await RetryDrainer(
                backend: backend.lookup,
                suppressor: backend.suppressor,
                queue: queue,
                settings: backend.retry
            ).drain(limit: backend.retry.perRun, deadline: deadline - .milliseconds(200)) { log.write($0) }
        }
    }

    /// Runs one invocation; every failure becomes one log line and its exit code (integratord and execd see
    /// only the code).
    static func exitCode(logging log: IntegrationLog, _ body: () async throws -> Void) async -> Int32 {
        do {
            try await body()
            return 0
        } catch let failure as IntegrationFailure {
            log.write("error: \(failure.description)")
            return failure.exitCode
        } catch {
            log.write("error: \(error)")
            return 1
        }
    }

    func readAlert(at path: String) throws(IntegrationFailure) -> JSONValue {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw IntegrationFailure(
                .alertFileMissing,
                "cannot read the alert file \(path): it does not exist or is not readable"
            )
        }
        defer { try? handle.close() }
        let bytes: Data
        do {
            bytes = try handle.read(upToCount: 16 << 20) ?? Data()
        } catch {
            throw IntegrationFailure(
                .alertFileMissing,
                "cannot read the alert file \(path): \(error.localizedDescription)"
            )
        }
        let alert: JSONValue
        do {
            alert = try JSONValue(parsing: bytes)
        } catch {
            throw IntegrationFailure(
                .alertNotJSON,
                "the alert file \(path) is not a JSON alert (\(error.description)); set <alert_format>json</alert_format> in the <integration> block"
            )
        }
        guard case .object = alert else {
            throw IntegrationFailure(.alertNotJSON, "the alert file \(path) holds JSON that is not an alert object")
        }
        return alert
    }
}

/// `custom-verdict`: what wazuh-integratord runs once per matching alert (docs/wazuh.md §1).
public enum IntegratordRun {
    public static let program = "custom-verdict"

    /// Runs one alert and returns the exit code; never throws, never outlives its budget.
    public static func run(arguments: [String], context: WazuhRunContext) async -> Int32 {
        let log = IntegrationLog(path: context.home + "/logs/integrations.log", program: program)
        return await WazuhRunContext.exitCode(logging: log) {
            let parsed = try IntegratorArguments(arguments)
            var options = IntegrationOptions()
            if let file = parsed.optionsFile {
                guard let bytes = FileManager.default.contents(atPath: file) else {
                    throw IntegrationFailure(.badSettings, "cannot read the options file \(file)")
                }
                options = try IntegrationOptions(json: Array(bytes), file: file)
            }
            let budget = options.timeoutSeconds ?? parsed.timeoutSeconds ?? 5
            let deadline = context.started + .milliseconds(Int64(budget * 1000))
            HardDeadline.arm(after: budget + 1, log: log, finishEarly: context.finishEarly)
            let alert = try context.readAlert(at: parsed.alertFile)
            try await context.enrich(
                alert,
                options: options,
                serverURL: parsed.hookURL,
                apiKey: parsed.apiKey,
                deadline: deadline,
                log: log
            )
        }
    }
}

extension WazuhRunContext {
    /// Embedded mode when the shared database cannot be reached: every lookup fails as worth retrying, so the
    /// alert goes to the retry queue in the data directory and is enriched once the database answers again.
    func withUnreachableDatabase<T>(
        _ unreachable: StoreError,
        configuration: EngineConfiguration,
        log: IntegrationLog,
        _ body: (Backend) async throws -> T
    ) async throws -> T {
        let queue: any RetryQueueStore
        do {
            queue = SQLiteRetryQueue(
                database: try await VerdictDatabase.open(directory: configuration.dataDirectory, singleConnection: true)
            )
        } catch {
            throw IntegrationFailure(.badSettings, "\(unreachable.description); and no retry queue: \(error)")
        }
        return try await body(
            Backend(
                lookup: UnreachableBackend(reason: unreachable.description),
                suppressor: Suppressor(internalSuffixes: configuration.internalSuffixes),
                queue: queue,
                retry: configuration.retry
            )
        )
    }
}

/// Lookups while the store cannot be reached: none gets an answer, each is worth trying again.
struct UnreachableBackend: LookupBackend {
    let reason: String
    var mode: String { "embedded" }

    func lookUp(_ found: [FoundIndicator], sources: Set<String>?, within budget: Duration) async throws
        -> [IndicatorOutcome]
    {
        throw IntegrationFailure(.lookupFailed, reason, isWorthRetrying: true)
    }
}
