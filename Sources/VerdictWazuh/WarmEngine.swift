import Dispatch
import Foundation
import Synchronization
import VerdictRelay

#if canImport(Glibc)
import Glibc
#endif

/// One run of `custom-verdict` or `verdict-ar`, whether in its own process (cold) or in the warm engine.
public enum RelayedRun {
    /// - input: the active response's standard input (the relay's own, passed to the engine).
    public static func run(
        _ program: RelayedProgram,
        arguments: [String],
        context: WazuhRunContext,
        input: Int32 = STDIN_FILENO
    ) async -> Int32 {
        switch program {
        case .integration: return await IntegratordRun.run(arguments: arguments, context: context)
        case .activeResponse: return await ActiveResponseRun.run(input: input, context: context)
        }
    }

    /// `verdict wazuh run PROGRAM RELAY_PATH ARGUMENTS…`: the run a relay becomes when no engine takes it.
    public static func cold(_ program: RelayedProgram, relayPath: String, arguments: [String]) async -> Int32 {
        let environment = ProcessInfo.processInfo.environment
        let context = WazuhRunContext(
            home: wazuhHome(environment: environment, executablePath: relayPath),
            environment: environment
        )
        return await run(program, arguments: arguments, context: context)
    }
}

/// `verdict wazuh engine`: serves the runs relays hand over (`Relay` in VerdictRelay), each exactly as a cold run
/// would do it: its own arguments and environment, the budget counted from the relay's start, and the working
/// directory it was started in, which is every one of its runs' (the directory is part of its address). Runs
/// overlap as the processes would. Leaves after `idle` without a run, or as soon as its executable is replaced or
/// removed (an upgrade, an uninstall) or its directory is, once its runs are done: relays look for the new one.
public enum WarmEngine {
    public static func serve(idle: Duration) async -> Int32 {
        let kept = KeptResources()
        let code = await withCheckedContinuation { continuation in
            // Accepting blocks: on a thread of its own, not one of the few the runs' tasks need.
            let thread = Thread { continuation.resume(returning: acceptRuns(idle: idle, kept: kept)) }
            thread.start()
        }
        await kept.close()
        return code
    }

    /// The idle time in `VERDICT_ENGINE_IDLE` (seconds; 600 when unset or unreadable).
    public static func idleTime(environment: [String: String]) -> Duration {
        guard let text = environment["VERDICT_ENGINE_IDLE"], let seconds = Int(text), seconds > 0 else {
            return .seconds(600)
        }
        return .seconds(seconds)
    }

    static func acceptRuns(idle: Duration, kept: KeptResources) -> Int32 {
        let executable = currentExecutablePath()
        let user = getuid()
        guard let workingDirectory = PlainPath.workingDirectory(),
            let address = EngineAddress(executable: executable, workingDirectory: workingDirectory, user: user)
        else { return 1 }
        guard let listener = EngineSocket.listen(at: address) else {
            // EADDRINUSE: another engine for this executable was started at the same moment and serves.
            return errno == EADDRINUSE ? 0 : 1
        }
        signal(SIGPIPE, SIG_IGN)
        let runs = RunCount()
        var lastRun = ContinuousClock.now
        while true {
            var waiting = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            let ready = poll(&waiting, 1, 1000)
            if ready <= 0 {
                if ready < 0 && errno != EINTR { break }
                if runs.isIdle, ContinuousClock.now - lastRun > idle { break }
                if EngineAddress(executable: executable, workingDirectory: workingDirectory, user: user) != address {
                    break
                }
                continue
            }
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { continue }
            _ = fcntl(connection, F_SETFD, FD_CLOEXEC)
            lastRun = .now
            runs.start()
            let thread = Thread {
                serveRun(on: connection, user: user, workingDirectory: workingDirectory, kept: kept)
                close(connection)
                runs.end()
            }
            thread.start()
        }
        // No new runs from here (relays find nobody and start a new engine); the runs under way finish first.
        close(listener)
        runs.waitUntilIdle()
        return 0
    }

    /// Reads one request, says it has it, runs it and answers its exit code. A relay of another user or another
    /// directory, or one that sends something else, is closed on unanswered (it then runs the alert itself).
    static func serveRun(on connection: Int32, user: uid_t, workingDirectory: String, kept: KeptResources) {
        guard EngineSocket.peerUser(connection) == user else { return }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var descriptors: [Int32] = []
        // Closed here unless a run took them: then when that run ends (it may outlive its answer).
        var runOwnsDescriptors = false
        defer { if !runOwnsDescriptors { for descriptor in descriptors { close(descriptor) } } }
        guard let prefix = EngineSocket.receive(count: 4, on: connection, descriptors: &descriptors),
            let length = try? RelayRequest.length(prefix: prefix),
            let body = EngineSocket.receive(count: length, on: connection, descriptors: &descriptors),
            let request = try? RelayRequest(body: body),
            request.workingDirectory == workingDirectory
        else { return }
        let input: Int32
        switch request.program {
        case .integration:
            input = -1
        case .activeResponse:
            guard descriptors.count == 1 else { return }
            input = descriptors[0]
        }
        // The relay gave up waiting (it then runs the alert itself): do not run it twice.
        guard EngineSocket.send(Array(RelayReply.accepted.line.utf8), passing: [], on: connection) else { return }
        let answer = Answer(connection: connection)
        var context = WazuhRunContext(
            home: wazuhHome(environment: request.environment, executablePath: request.executablePath),
            environment: request.environment,
            started: .now - .nanoseconds(Int64(clamping: request.elapsedNanoseconds)),
            finishEarly: { answer.finish($0) }
        )
        context.kept = kept
        runOwnsDescriptors = true
        Task { [descriptors] in
            let code = await RelayedRun.run(
                request.program,
                arguments: request.arguments,
                context: context,
                input: input
            )
            for descriptor in descriptors { close(descriptor) }
            answer.finish(code)
        }
        answer.wait()
    }

    /// The one exit code a run answers: its own, or the hard deadline's if that comes first.
    final class Answer: Sendable {
        let connection: Int32
        let answered = Mutex(false)
        let done = DispatchSemaphore(value: 0)

        init(connection: Int32) { self.connection = connection }

        @discardableResult
        func finish(_ code: Int32) -> Bool {
            let first = answered.withLock { answered in
                defer { answered = true }
                return !answered
            }
            guard first else { return false }
            _ = EngineSocket.send(Array(RelayReply.exit(code).line.utf8), passing: [], on: connection)
            done.signal()
            return true
        }

        func wait() { done.wait() }
    }

    /// The runs under way, so that the engine leaves only between runs.
    final class RunCount: @unchecked Sendable {
        // @unchecked: `running` is read and written under `condition` only.
        private let condition = NSCondition()
        private var running = 0

        func start() {
            condition.lock()
            running += 1
            condition.unlock()
        }

        func end() {
            condition.lock()
            running -= 1
            if running == 0 { condition.broadcast() }
            condition.unlock()
        }

        var isIdle: Bool {
            condition.lock()
            defer { condition.unlock() }
            return running == 0
        }

        func waitUntilIdle() {
            condition.lock()
            while running > 0 { condition.wait() }
            condition.unlock()
        }
    }
}
