import CVerdictRelay

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What `custom-verdict` and `verdict-ar` are: a small program that starts in a few milliseconds and hands its
/// run to the warm engine (`verdict wazuh engine`, the `verdict` executable beside it), which has the settings,
/// the store and the sources loaded already. Without a usable engine it starts one for the next alerts and
/// becomes the engine's cold run itself (`verdict wazuh run PROGRAM …`, by execve), so every run does exactly what
/// the full program does, warm or not.
///
/// `VERDICT_ENGINE_IDLE=0` turns the warm engine off (every run cold); other values are the seconds an engine
/// waits for the next run before it leaves (default 600).
public enum Relay {
    /// The engine's file name, beside the relay (`verdict wazuh install` puts it there).
    public static let engineName = "verdict"
    /// The engine's arguments that serve relays: `verdict wazuh engine`.
    public static let engineCommand = ["wazuh", "engine"]
    /// The engine's arguments for one cold run, before `PROGRAM RELAY_PATH ARGUMENTS…`: `verdict wazuh run`.
    public static let coldRunCommand = ["wazuh", "run"]

    public static func main(_ program: RelayedProgram) -> Never {
        let started = bootNanoseconds()
        let executablePath = currentExecutablePath()
        let environment = processEnvironment()
        if program == .activeResponse {
            // As the cold run does first: wazuh-execd runs active responses as root, and nothing here needs it.
            do {
                try WazuhIdentity.dropRoot(home: wazuhHome(environment: environment, executablePath: executablePath))
            } catch {
                fail(program, error.description, code: error.exitCode)
            }
        }
        let engine = PlainPath.parent(of: executablePath) + "/" + engineName
        guard access(engine, X_OK) == 0 else {
            fail(
                program,
                "the Verdict engine \(engine) is missing or not executable (\(String(cString: strerror(errno)))); `verdict wazuh install` puts it beside \(program.rawValue)",
                code: 10
            )
        }
        // An engine serves the runs of its own user only (the address names the user; both ends check).
        let workingDirectory = PlainPath.workingDirectory() ?? "/"
        if environment["VERDICT_ENGINE_IDLE"] != "0",
            let address = EngineAddress(executable: engine, workingDirectory: workingDirectory, user: getuid())
        {
            let handedOver = handOver(
                program,
                to: address,
                executablePath: executablePath,
                workingDirectory: workingDirectory,
                environment: environment,
                started: started
            )
            switch handedOver {
            case .finished(let code):
                exit(code)
            case .noEngine:
                startEngine(engine)
            case .unusable:
                break
            }
        }
        runCold(program, engine: engine, executablePath: executablePath)
    }

    enum HandOver {
        case finished(Int32)
        /// Nobody listens: start an engine for the next runs.
        case noEngine
        /// Something listens but did not take the run (stuck, another user's, gone midway).
        case unusable
    }

    /// How long a relay waits for the engine to take its run before doing it itself (it takes each at once).
    static let acceptWaitMilliseconds: Int32 = 5_000
    /// The engine holds each run to its own budget; this only bounds a relay whose engine stopped answering.
    static let finishWaitMilliseconds: Int32 = 600_000

    static func handOver(
        _ program: RelayedProgram,
        to address: EngineAddress,
        executablePath: String,
        workingDirectory: String,
        environment: [String: String],
        started: UInt64
    ) -> HandOver {
        guard let connection = EngineSocket.connect(to: address) else {
            return errno == ECONNREFUSED || errno == ENOENT ? .noEngine : .unusable
        }
        defer { close(connection) }
        guard EngineSocket.peerUser(connection) == getuid() else { return .unusable }
        let request = RelayRequest(
            program: program,
            executablePath: executablePath,
            workingDirectory: workingDirectory,
            arguments: Array(CommandLine.arguments.dropFirst()),
            environment: environment,
            elapsedNanoseconds: bootNanoseconds() &- started
        )
        // The active response's message is on standard input: the engine reads it from this very descriptor.
        let passed = program == .activeResponse ? [STDIN_FILENO] : []
        guard EngineSocket.send(request.encoded(), passing: passed, on: connection),
            let taken = EngineSocket.readLine(on: connection, timeoutMilliseconds: acceptWaitMilliseconds),
            RelayReply(line: taken) == .accepted
        else { return .unusable }
        guard let reply = EngineSocket.readLine(on: connection, timeoutMilliseconds: finishWaitMilliseconds),
            case .exit(let code) = RelayReply(line: reply)
        else {
            // The engine took the run and ended without its result. The integration's alert file is still there,
            // so it runs again cold (an event may come twice, none is lost); the active response's input is gone.
            if program == .integration { return .unusable }
            fail(program, "the Verdict engine stopped during the run; the alert was not enriched", code: 8)
        }
        return .finished(code)
    }

    /// Starts `verdict wazuh engine` in its own session and this working directory, holding none of this
    /// process's descriptors (a caller waiting for our output to close must not wait for the engine), and does
    /// not wait for it.
    static func startEngine(_ engine: String) {
        let arguments = [engineName] + engineCommand
        var pointers = arguments.map { strdup($0) } + [nil]
        defer { for pointer in pointers { free(pointer) } }
        _ = verdict_spawn_detached(engine, &pointers, environ)
    }

    /// Becomes the engine's one-off run of `program`, with this process's arguments and environment.
    static func runCold(_ program: RelayedProgram, engine: String, executablePath: String) -> Never {
        let arguments =
            [engineName] + coldRunCommand + [program.rawValue, executablePath] + CommandLine.arguments.dropFirst()
        var pointers = arguments.map { strdup($0) } + [nil]
        execv(engine, &pointers)
        let reason = String(cString: strerror(errno))
        for pointer in pointers { free(pointer) }
        fail(program, "could not run the Verdict engine \(engine): \(reason)", code: 10)
    }

    /// Says why on standard error and exits with `code` (the cold run's own codes: 10 for settings, 8 for a
    /// lookup that did not happen).
    static func fail(_ program: RelayedProgram, _ message: String, code: Int32) -> Never {
        let line = Array("\(program.rawValue): \(message)\n".utf8)
        _ = line.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
        exit(code)
    }

    /// CLOCK_BOOTTIME, the clock Swift's ContinuousClock reads on Linux, so the engine can count the budget
    /// from the relay's start.
    public static func bootNanoseconds() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_BOOTTIME, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    public static func processEnvironment() -> [String: String] {
        var environment: [String: String] = [:]
        var cursor = environ
        while let entry = cursor.pointee {
            if let (name, value) = RelayRequest.variable(String(cString: entry)) { environment[name] = value }
            cursor += 1
        }
        return environment
    }
}
