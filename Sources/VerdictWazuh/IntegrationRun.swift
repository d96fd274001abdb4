import AsyncHTTPClient
import Foundation
import VerdictCore
import VerdictEngine
import VerdictSources
import VerdictStore

#if canImport(Glibc)
import Glibc
#endif

/// The Wazuh directory (docs/contracts.md §5): `VERDICT_WAZUH_HOME`, else the parent of the folder holding the
/// executable as Wazuh's own scripts find it (`<home>/integrations/custom-verdict`, and for the active
/// response `<home>/active-response/bin/verdict-ar`), else the working directory when it is a Wazuh home
/// (integratord and execd run there), else `/var/ossec`.
public func wazuhHome(environment: [String: String], executablePath: String) -> String {
    if let home = environment["VERDICT_WAZUH_HOME"], !home.isEmpty { return home }
    func isWazuhHome(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path + "/queue", isDirectory: &isDirectory)
            && isDirectory.boolValue
    }
    let folder = URL(fileURLWithPath: executablePath).resolvingSymlinksInPath().deletingLastPathComponent()
    let parent = folder.deletingLastPathComponent()
    if folder.lastPathComponent == "integrations" { return parent.path }
    if folder.lastPathComponent == "bin" && parent.lastPathComponent == "active-response" {
        return parent.deletingLastPathComponent().path
    }
    if isWazuhHome(parent.path) { return parent.path }
    let workingDirectory = FileManager.default.currentDirectoryPath
    if isWazuhHome(workingDirectory) { return workingDirectory }
    return "/var/ossec"
}

/// This process's executable, symlinks resolved (argv[0] is only `integrations` under integratord).
public func currentExecutablePath() -> String {
    URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
}

/// The last line of defence for the time budget: if anything (a locked database, a stuck resolver) still
/// runs `grace` after the budget, log it and leave. integratord and execd wait for us with no timeout.
enum HardDeadline {
    static func arm(after seconds: Double, log: IntegrationLog) {
        let thread = Thread {
            Thread.sleep(forTimeInterval: seconds)
            log.write("error: still running \(Int(seconds)) s after starting; gave up so that Wazuh is not held up")
            _exit(IntegrationFailure.Kind.lookupFailed.rawValue)
        }
        thread.start()
    }
}

/// Everything a run needs from the machine: the Wazuh home, the environment, the clock.
public struct WazuhRunContext: Sendable {
    public var home: String
    public var environment: [String: String]
    public var started: ContinuousClock.Instant

    public init(home: String, environment: [String: String], started: ContinuousClock.Instant = .now) {
        self.home = home
        self.environment = environment
        self.started = started
    }

    var socketPath: String { home + "/queue/sockets/queue" }

    /// Settings for embedded mode: `<home>/etc/verdict.yaml` (when present) and `VERDICT_*` variables, with the
    /// cache in `<home>/var/verdict` unless `VERDICT_DATA_DIR` says otherwise.
    func configuration() async throws -> EngineConfiguration {
        var environment = environment
        let settingsFile = home + "/etc/verdict.yaml"
        if (environment["VERDICT_CONFIG"] ?? "").isEmpty, FileManager.default.fileExists(atPath: settingsFile) {
            environment["VERDICT_CONFIG"] = settingsFile
        }
        if (environment["VERDICT_DATA_DIR"] ?? "").isEmpty { environment["VERDICT_DATA_DIR"] = home + "/var/verdict" }
        do {
            return try await EngineConfiguration.load(environment: environment)
        } catch let error as SettingError {
            throw IntegrationFailure(.badSettings, error.description)
        }
    }

    /// Runs `body` with a lookup backend: a Verdict server when `serverURL` is set, the engine otherwise; and
    /// releases what it opened.
    ///   - loaded: the settings when the caller has read them already (embedded mode reads them otherwise).
    func withBackend<T>(
        serverURL: String?,
        apiKey: String,
        loaded: EngineConfiguration? = nil,
        log: IntegrationLog,
        _ body: (any LookupBackend, Suppressor) async throws -> T
    ) async throws -> T {
        if let serverURL, !serverURL.isEmpty {
            let client = HTTPClient(eventLoopGroupProvider: .singleton)
            do {
                let backend = try ServerBackend(hookURL: serverURL, apiKey: apiKey, client: client)
                let value = try await body(backend, Suppressor())
                try? await client.shutdown()
                return value
            } catch {
                try? await client.shutdown()
                throw error
            }
        }
        let configuration: EngineConfiguration
        if let loaded { configuration = loaded } else { configuration = try await self.configuration() }
        let runtime: EngineRuntime
        do {
            // A process per alert: one connection, and the store's failures in the integration's log.
            let database = try await VerdictDatabase.open(
                directory: configuration.dataDirectory,
                singleConnection: true
            )
            runtime = try EngineRuntime(
                configuration: configuration,
                database: database,
                health: StoreHealth(log: { message in log.write("error: \(message)") })
            )
        } catch let error as StoreError {
            throw IntegrationFailure(.badSettings, error.description)
        } catch let error as SettingError {
            throw IntegrationFailure(.badSettings, error.description)
        }
        do {
            let value = try await body(EmbeddedBackend(engine: runtime.engine), runtime.engine.suppressor)
            await runtime.shutdown()
            return value
        } catch {
            await runtime.shutdown()
            throw error
        }
    }

    /// Enriches one alert (embedded or client mode) and writes its one log line. Verdict's own events are
    /// skipped before any backend is opened.
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
        let (mode, summary) = try await withBackend(
            serverURL: serverURL,
            apiKey: apiKey,
            loaded: configuration,
            log: log
        ) {
            backend,
            suppressor in
            let enricher = AlertEnricher(
                options: options,
                suppressor: suppressor,
                backend: backend,
                socketPath: socketPath
            )
            return (backend.mode, try await enricher.enrich(alert, deadline: deadline))
        }
        let elapsed = ContinuousClock.now - started
        log.write("\(described) [\(mode)]: \(summary.description) in \(elapsed.milliseconds) ms")
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
            HardDeadline.arm(after: budget + 1, log: log)
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
