import Foundation
import Testing
import VerdictCore
import VerdictEngine
import VerdictRelay
import VerdictTestSupport

@testable import VerdictWazuh

#if canImport(Glibc)
import Glibc
#endif

/// The relays (`custom-verdict`, `verdict-ar`) and the warm engine (`verdict wazuh engine`) as real processes.
/// Each test installs its own copies of the built executables in its own Wazuh home, as `verdict wazuh install`
/// does, so it has an engine of its own (the engine's address is its executable's identity) that it may replace.
struct WarmEngineProcessTests {
    typealias Home = IntegrationProcessTests.WazuhHome

    /// Copies of the built relay and engine in the home's folder for `program`.
    static func install(_ program: RelayedProgram, in home: Home, engine: Bool = true) throws -> String {
        let folder = home.path + (program == .integration ? "/integrations" : "/active-response/bin")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var names = [program.rawValue]
        if engine { names.append(Relay.engineName) }
        for name in names {
            try? FileManager.default.removeItem(atPath: folder + "/" + name)
            try FileManager.default.copyItem(
                atPath: WazuhProcess.buildProducts.appendingPathComponent(name).path,
                toPath: folder + "/" + name
            )
        }
        return folder
    }

    /// A home with a relay and (unless told not to) its engine installed, and a sample alert; kills the engines
    /// of that executable when done.
    final class Installation {
        let home: Home
        let relay: String
        let engine: String
        let alert: String

        init(_ program: RelayedProgram = .integration, engine withEngine: Bool = true) throws {
            home = try Home()
            let folder = try WarmEngineProcessTests.install(program, in: home, engine: withEngine)
            relay = folder + "/" + program.rawValue
            engine = folder + "/" + Relay.engineName
            alert = try home.file("custom-verdict-1716200000--42.alert", IntegrationProcessTests.sshdAlert + "\n")
        }

        /// The relay on the sample alert (or `alert`), from the home (or `directory`), to its end.
        func run(
            alert chosen: String? = nil,
            timeout: String = "10",
            from directory: Home? = nil,
            environment: [String: String] = [:]
        ) async throws -> (status: Int32, output: String) {
            await WarmEngineProcessTests.finish(
                try start(alert: chosen, timeout: timeout, from: directory, environment: environment)
            )
        }

        func start(
            alert chosen: String? = nil,
            timeout: String = "10",
            from directory: Home? = nil,
            environment: [String: String] = [:]
        ) throws -> (process: Process, output: Pipe) {
            try WarmEngineProcessTests.start(
                relay,
                arguments: IntegrationProcessTests.argv(alert: chosen ?? alert, timeout: timeout),
                home: directory ?? home,
                environment: environment
            )
        }

        func waitForEngine(in directory: Home? = nil) async throws -> pid_t {
            try await WarmEngineProcessTests.waitForEngine(engine, home: (directory ?? home).path, user: getuid())
        }

        deinit { for process in WarmEngineProcessTests.processes(running: engine) { kill(process, SIGKILL) } }
    }

    /// Who runs the engine: the relay's user, which for `verdict-ar` started as root is the home's Wazuh user.
    static func engineUser(for program: RelayedProgram, home: Home) -> uid_t {
        guard program == .activeResponse, getuid() == 0 else { return getuid() }
        return WazuhIdentity.target(home: home.path)?.user ?? getuid()
    }

    /// Waits until an engine for `executable` and runs in `home` listens, and returns its process ID.
    static func waitForEngine(_ executable: String, home: String, user: uid_t) async throws -> pid_t {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if let address = EngineAddress(executable: executable, workingDirectory: home, user: user),
                let connection = EngineSocket.connect(to: address)
            {
                close(connection)
                let inHome = processes(running: executable).filter {
                    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\($0)/cwd")) == home
                }
                if let process = inHome.first { return process }
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw EngineNotStarted(description: "no engine for \(executable) listened within 60 s")
    }

    struct EngineNotStarted: Error, CustomStringConvertible {
        let description: String
    }

    /// The processes whose executable is `path` (also after it was replaced or removed: `path (deleted)`).
    static func processes(running path: String) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry in
            guard let process = pid_t(entry),
                let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(entry)/exe"),
                executable == path || executable == path + " (deleted)"
            else { return nil }
            return process
        }
    }

    /// What the descriptors of `process` point at (`/path`, `pipe:[123]`).
    static func openFiles(of process: pid_t) -> [String] {
        let folder = "/proc/\(process)/fd"
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return entries.compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: folder + "/" + $0) }
    }

    static func waitUntil(_ condition: () -> Bool, timeout: Duration = .seconds(30)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return condition()
    }

    /// Starts `executable` as integratord or execd would (working directory the home), without waiting.
    static func start(
        _ executable: String,
        arguments: [String],
        home: Home,
        environment extra: [String: String] = [:],
        input: Pipe? = nil
    ) throws -> (process: Process, output: Pipe) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: home.path)
        var environment = ProcessInfo.processInfo.environment
        for name in environment.keys where name.hasPrefix("VERDICT_") { environment.removeValue(forKey: name) }
        process.environment = environment.merging(home.environment) { $1 }.merging(extra) { $1 }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = input ?? FileHandle.nullDevice
        try process.run()
        return (process, output)
    }

    static func finish(_ started: (process: Process, output: Pipe)) async -> (status: Int32, output: String) {
        await withCheckedContinuation { continuation in
            let thread = Thread {
                let captured = started.output.fileHandleForReading.readDataToEndOfFile()
                started.process.waitUntilExit()
                continuation.resume(
                    returning: (started.process.terminationStatus, String(decoding: captured, as: UTF8.self))
                )
            }
            thread.start()
        }
    }

    /// An alert file that is a FIFO: whoever runs the alert blocks opening it until the test writes the alert,
    /// which shows which process runs it.
    static func fifoAlert(in home: Home) throws -> String {
        let path = home.path + "/custom-verdict-\(UUID().uuidString.prefix(8)).alert"
        try #require(mkfifo(path, 0o644) == 0, "mkfifo: \(String(cString: strerror(errno)))")
        return path
    }

    /// The FIFO's write end, opened once some process waits to read it (a reader's open blocks until then, with
    /// no descriptor to see); nil when nobody comes within 30 s.
    static func writerOnceReaderWaits(_ path: String) async -> FileHandle? {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            let descriptor = open(path, O_WRONLY | O_NONBLOCK)
            if descriptor >= 0 { return FileHandle(fileDescriptor: descriptor, closeOnDealloc: true) }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }

    static func write(_ text: String, toFIFO path: String) throws {
        let handle = try #require(FileHandle(forWritingAtPath: path))
        handle.write(Data(text.utf8))
        try handle.close()
    }

    @Test func theSecondAlertIsRunByTheWarmEngineWithItsOwnRelaysEnvironment() async throws {
        let installed = try Installation()
        let home = installed.home

        // No engine yet: the relay runs the alert itself and starts one.
        let cold = try await installed.run()
        #expect(cold.status == 0, "\(cold.output) \(home.log)")
        #expect(await home.receiver!.wait(for: 1).count == 1, "the cold run's event; log: \(home.log)")
        let enginePID = try await installed.waitForEngine()

        // The next alert: the engine opens the alert file (the relay stays the relay), and the event arrives.
        let fifo = try Self.fifoAlert(in: home)
        let warm = try installed.start(alert: fifo)
        let writer = try #require(await Self.writerOnceReaderWaits(fifo), "nobody opened the alert; log: \(home.log)")
        let engineOpenedIt = await Self.waitUntil { Self.openFiles(of: enginePID).contains(fifo) }
        let relayExecutable = try? FileManager.default.destinationOfSymbolicLink(
            atPath: "/proc/\(warm.process.processIdentifier)/exe"
        )
        writer.write(Data((IntegrationProcessTests.sshdAlert + "\n").utf8))
        try writer.close()
        let finished = await Self.finish(warm)
        #expect(engineOpenedIt, "the engine, not the relay, read the alert")
        #expect(relayExecutable == installed.relay, "the relay did not become a cold run")
        #expect(finished.status == 0, "\(finished.output) \(home.log)")
        let events = await home.receiver!.wait(for: 2)
        #expect(events.count == 2, "log: \(home.log)")
        #expect(events.last?.contains(#""indicator":"185.220.101.4""#) == true)
        #expect(events.last?.contains(#""verdict":"malicious""#) == true)

        // A run with other settings gets them: with no feed listing the address, it is not malicious.
        let emptyFeeds = home.path + "/no-feeds"
        try FileManager.default.createDirectory(atPath: emptyFeeds, withIntermediateDirectories: true)
        let otherSettings = try await installed.run(environment: ["VERDICT_FEEDS_DIR": emptyFeeds])
        #expect(otherSettings.status == 0, "\(otherSettings.output)")
        let lastLine = home.log.split(separator: "\n").last.map(String.init) ?? ""
        #expect(lastLine.contains("1 unknown"), "the run used its own VERDICT_FEEDS_DIR: \(lastLine)")
        #expect(Self.processes(running: installed.engine) == [enginePID], "one engine served every run in this home")
    }

    /// The engine keeps its database and engine open between runs, yet each run sees what a cold one would: the
    /// allow-list and the overrides as they are now, and a data directory made anew.
    @Test func theEngineKeepsItsDatabaseOpenAndEachRunSeesTheFilesAsTheyAreNow() async throws {
        let installed = try Installation()
        let home = installed.home
        let database = home.path + "/var/verdict/verdict.sqlite"
        func lastLine() -> String { home.log.split(separator: "\n").last.map(String.init) ?? "" }

        _ = try await installed.run()
        let enginePID = try await installed.waitForEngine()
        let warm = try await installed.run()
        #expect(warm.status == 0, "\(warm.output) \(home.log)")
        #expect(lastLine().contains("1 malicious"), "\(lastLine())")
        #expect(
            Self.openFiles(of: enginePID).contains(database),
            "between runs the engine still has \(database) open"
        )

        // The allow-list, edited between two runs, applies to the next one.
        let allowList = home.feeds + "/allowlist.txt"
        try "185.220.101.4\n".write(toFile: allowList, atomically: true, encoding: .utf8)
        let allowed = try await installed.run()
        #expect(allowed.status == 0, "\(allowed.output)")
        #expect(lastLine().contains("0 indicators, 1 suppressed"), "the new allow-list: \(lastLine())")
        try FileManager.default.removeItem(atPath: allowList)

        // An override added by the CLI meanwhile wins at the next run.
        let override = await Self.finish(
            try Self.start(
                installed.engine,
                arguments: ["override", "add", "185.220.101.4", "--verdict", "harmless", "--reason", "our scanner"],
                home: home,
                environment: ["VERDICT_DATA_DIR": home.path + "/var/verdict"]
            )
        )
        #expect(override.status == 0, "\(override.output)")
        let overridden = try await installed.run()
        #expect(overridden.status == 0, "\(overridden.output)")
        #expect(lastLine().contains("1 harmless"), "the override: \(lastLine())")

        // The data directory removed and made again: the run uses the new database, not the unlinked file.
        try FileManager.default.removeItem(atPath: home.path + "/var/verdict")
        let fresh = try await installed.run()
        #expect(fresh.status == 0, "\(fresh.output)")
        #expect(lastLine().contains("1 malicious"), "the feeds read into the new database: \(lastLine())")
        #expect(FileManager.default.fileExists(atPath: database), "the run made the database again")
        let open = Self.openFiles(of: enginePID)
        #expect(open.contains(database) && !open.contains(database + " (deleted)"), "the engine has \(open)")
        #expect(Self.processes(running: installed.engine) == [enginePID], "the same engine served every run")
        #expect(await home.receiver!.wait(for: 3).count == 3, "an event for each malicious answer: \(home.log)")
    }

    @Test func anEngineWhoseExecutableIsReplacedLeavesAndANewOneServes() async throws {
        let installed = try Installation()
        let home = installed.home
        let first = try await installed.run()
        #expect(first.status == 0, "\(first.output)")
        let oldEngine = try await installed.waitForEngine()

        // An upgrade: the engine file is replaced (new inode), as `verdict wazuh install` and dpkg do.
        let replacement = installed.engine + ".new"
        try FileManager.default.copyItem(
            atPath: WazuhProcess.buildProducts.appendingPathComponent("verdict").path,
            toPath: replacement
        )
        #expect(rename(replacement, installed.engine) == 0)
        #expect(
            await Self.waitUntil { kill(oldEngine, 0) != 0 || Self.isZombie(oldEngine) },
            "the old engine left once its executable was replaced"
        )
        let second = try await installed.run()
        #expect(second.status == 0, "\(second.output)")
        let newEngine = try await installed.waitForEngine()
        #expect(newEngine != oldEngine)
        #expect(await home.receiver!.wait(for: 2).count == 2, "log: \(home.log)")
    }

    @Test func runsFromAnotherDirectoryGetAnEngineOfTheirOwnWhichLeavesWithIt() async throws {
        let installed = try Installation()
        let home = installed.home
        let elsewhere = try Home(bindSocket: false)
        for directory in [home, elsewhere] {
            let run = try await installed.run(from: directory)
            #expect(run.status == 0, "\(run.output)")
        }
        let homeEngine = try await installed.waitForEngine()
        let otherEngine = try await installed.waitForEngine(in: elsewhere)
        #expect(homeEngine != otherEngine, "each working directory has its engine")
        try FileManager.default.removeItem(atPath: elsewhere.path)
        #expect(
            await Self.waitUntil { kill(otherEngine, 0) != 0 || Self.isZombie(otherEngine) },
            "the engine left once its directory was removed"
        )
        #expect(kill(homeEngine, 0) == 0, "the home's engine stays")
    }

    static func isZombie(_ process: pid_t) -> Bool {
        guard let status = try? String(contentsOfFile: "/proc/\(process)/stat", encoding: .utf8) else { return true }
        return status.split(separator: ")").last?.split(separator: " ").first == "Z"
    }

    @Test func theEngineAnswersAtTheBudgetAndServesTheNextAlert() async throws {
        let installed = try Installation()
        let home = installed.home
        _ = try await installed.run()
        let enginePID = try await installed.waitForEngine()

        // An alert that never comes (nobody writes the FIFO) and a 2 s budget: the relay gets the hard
        // deadline's code (8) at about 3 s, well before anything else would end it.
        let fifo = try Self.fifoAlert(in: home)
        let stuck = try await installed.run(alert: fifo, timeout: "2")
        #expect(stuck.status == 8, "\(stuck.output) \(home.log)")
        #expect(home.log.contains("gave up so that Wazuh is not held up"))
        // The same engine takes the next alert.
        let next = try await installed.run()
        #expect(next.status == 0, "\(next.output)")
        #expect(await home.receiver!.wait(for: 2).count == 2, "log: \(home.log)")
        #expect(Self.processes(running: installed.engine) == [enginePID])
        try Self.write(IntegrationProcessTests.sshdAlert + "\n", toFIFO: fifo)  // lets the stuck run end
    }

    @Test func theActiveResponseMessageIsReadByTheEngineFromTheRelaysStandardInput() async throws {
        let installed = try Installation(.activeResponse)
        let (home, relay) = (installed.home, installed.relay)
        let message = ActiveResponseHardeningTests.message(alertID: "1716200000.12345")
        let firstInput = Pipe()
        let cold = try Self.start(relay, arguments: [], home: home, input: firstInput)
        firstInput.fileHandleForWriting.write(Data(message.utf8))
        let coldFinished = await Self.finish(cold)
        #expect(coldFinished.status == 0, "\(coldFinished.output)")
        let enginePID = try await Self.waitForEngine(
            installed.engine,
            home: home.path,
            user: Self.engineUser(for: .activeResponse, home: home)
        )

        // The relay passes its standard input: the engine holds that very pipe, and reads the message from it.
        let input = Pipe()
        let pipeName = try FileManager.default.destinationOfSymbolicLink(
            atPath: "/proc/self/fd/\(input.fileHandleForWriting.fileDescriptor)"
        )
        #expect(pipeName.hasPrefix("pipe:["))
        let warm = try Self.start(relay, arguments: [], home: home, input: input)
        let engineHasIt = await Self.waitUntil { Self.openFiles(of: enginePID).contains(pipeName) }
        input.fileHandleForWriting.write(Data(message.utf8))
        let finished = await Self.finish(warm)
        try? input.fileHandleForWriting.close()
        #expect(engineHasIt, "the engine holds the relay's standard input")
        #expect(finished.status == 0, "\(finished.output)")
        let events = await home.receiver!.wait(for: 2)
        #expect(events.count == 2, "one event per run")
        #expect(events.last?.contains(#""indicator":"185.220.101.4""#) == true)
        if getuid() == 0 {
            let owner = try FileManager.default.attributesOfItem(atPath: "/proc/\(enginePID)")[.ownerAccountID]
            #expect(
                (owner as? NSNumber)?.uint32Value == Self.engineUser(for: .activeResponse, home: home),
                "the engine is not root's"
            )
        }
    }

    @Test func aRelayWithoutItsEngineSaysWhereItShouldBe() async throws {
        let installed = try Installation(engine: false)
        let run = try await installed.run()
        #expect(run.status == 10)
        #expect(run.output.contains("the Verdict engine \(installed.engine) is missing"), "\(run.output)")
        #expect(run.output.contains("verdict wazuh install"))
    }

    @Test func withTheEngineOffEveryRunIsColdAndNoEngineStarts() async throws {
        let installed = try Installation()
        let home = installed.home
        for _ in 0..<2 {
            let run = try await installed.run(environment: ["VERDICT_ENGINE_IDLE": "0"])
            #expect(run.status == 0, "\(run.output)")
        }
        #expect(await home.receiver!.wait(for: 2).count == 2)
        #expect(Self.processes(running: installed.engine).isEmpty, "VERDICT_ENGINE_IDLE=0 starts no engine")
    }
}

/// The request a relay sends, read back as the engine reads it.
struct RelayRequestTests {
    @Test func aRequestReadsBackWhole() throws {
        let request = RelayRequest(
            program: .integration,
            executablePath: "/var/ossec/integrations/custom-verdict",
            workingDirectory: "/var/ossec",
            arguments: ["/tmp/custom-verdict-1--2.alert", "", "", "", "", "10", "3", "> /dev/null 2>&1"],
            environment: ["PATH": "/usr/bin", "EMPTY": "", "URL": "postgres://a:b@h/db?x=1&y=2", "UNICODE": "é✓"],
            elapsedNanoseconds: 1_234_567
        )
        let encoded = request.encoded()
        let length = try RelayRequest.length(prefix: Array(encoded.prefix(4)))
        #expect(length == encoded.count - 4)
        #expect(try RelayRequest(body: Array(encoded.dropFirst(4))) == request)
    }

    @Test func repliesReadBackAsSentAndNothingElseIsOne() {
        for reply in [RelayReply.accepted, .exit(0), .exit(8), .exit(-1)] {
            #expect(RelayReply(line: String(reply.line.dropLast())) == reply, "\(reply.line)")
            #expect(reply.line.hasSuffix("\n"))
        }
        for line in ["", "accepted ", "exit", "exit x", "exit 1 2", "Accepted"] {
            #expect(RelayReply(line: line) == nil, "\(line)")
        }
    }

    @Test func aDamagedRequestIsRefusedSayingWhy() throws {
        let encoded = RelayRequest(
            program: .activeResponse,
            executablePath: "/x/verdict-ar",
            workingDirectory: "/",
            arguments: ["a"],
            environment: ["A": "1"],
            elapsedNanoseconds: 0
        ).encoded()
        let body = Array(encoded.dropFirst(4))
        #expect(throws: RelayRequest.Malformed.self) { try RelayRequest(body: Array(body.dropLast(3))) }
        #expect(throws: RelayRequest.Malformed.self) { try RelayRequest(body: body + Array("extra\0".utf8)) }
        #expect(throws: RelayRequest.Malformed.self) { try RelayRequest(body: Array("other-protocol\0".utf8)) }
        #expect(throws: RelayRequest.Malformed.self) { try RelayRequest.length(prefix: [0, 0, 0, 0x10]) }
        var wrongProgram = body
        let programStart = body.firstIndex(of: 0)! + 1
        wrongProgram[programStart] = UInt8(ascii: "x")
        #expect(throws: RelayRequest.Malformed.self) { try RelayRequest(body: wrongProgram) }
    }
}

/// The warm engine keeps the settings it read; a changed settings file or environment must still be read anew.
struct LoadedSettingsTests {
    @Test func settingsAreReadAgainWhenTheFileOrTheEnvironmentChanges() async throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("settings-\(UUID())").path
        try FileManager.default.createDirectory(atPath: home + "/etc", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: home) }
        let file = home + "/etc/verdict.yaml"
        func virusTotalIsOn(_ environment: [String: String] = [:]) async throws -> Bool {
            let configuration = try await WazuhRunContext(home: home, environment: environment).configuration()
            return try #require(configuration.sources.first { $0.name == "virustotal" }).isOn
        }
        try "# virustotal:\n#   api_key: \"...\"\n".write(toFile: file, atomically: false, encoding: .utf8)
        #expect(try await virusTotalIsOn() == false)
        #expect(try await virusTotalIsOn() == false, "read again from the cache, the same")
        // Edited in place (same inode), as an editor or `sed -i` may do.
        try "virustotal:\n  api_key: \"k1\"\n".write(toFile: file, atomically: false, encoding: .utf8)
        #expect(try await virusTotalIsOn() == true, "the edited file is read again")
        #expect(try await virusTotalIsOn(["VERDICT_VIRUSTOTAL_ENABLED": "false"]) == false, "another environment")
        try FileManager.default.removeItem(atPath: file)
        #expect(try await virusTotalIsOn() == false, "without the file, its key is gone")
    }
}
