import Foundation
import Testing

/// `verdict extract` as users and outside tests call it (docs/contracts.md §1): the built executable, real files,
/// standard input, exit codes.
struct ExtractCommandTests {
    struct Run {
        let status: Int32
        let output: String
        let errors: String
    }

    /// The `verdict` executable next to this test bundle in the build folder.
    static let executable: URL = {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 where !FileManager.default.fileExists(atPath: directory.appendingPathComponent("verdict").path) {
            directory.deleteLastPathComponent()
        }
        return directory.appendingPathComponent("verdict")
    }()

    /// Runs the executable on a thread of its own, so waiting for it never holds a cooperative thread (other
    /// tests' deadlines would slip).
    static func run(
        _ arguments: [String],
        input: String? = nil,
        environment: [String: String] = [:],
        program: String? = nil
    ) async throws -> Run {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(
                    with: Result {
                        try runBlocking(arguments, input: input, environment: environment, program: program)
                    }
                )
            }.start()
        }
    }

    /// - Parameters:
    ///   - program: another executable to run instead of `verdict` (a wrapper such as `script`).
    static func runBlocking(_ arguments: [String], input: String?, environment: [String: String], program: String?)
        throws -> Run
    {
        let process = Process()
        process.executableURL = program.map { URL(fileURLWithPath: $0) } ?? executable
        process.arguments = arguments
        var processEnvironment = ProcessInfo.processInfo.environment
        processEnvironment.removeValue(forKey: "VERDICT_FEEDS_DIR")
        processEnvironment.merge(environment) { $1 }
        process.environment = processEnvironment
        let stdin = Pipe()
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
        try stdin.fileHandleForWriting.close()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        let errors = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(
            status: process.terminationStatus,
            output: String(decoding: output, as: UTF8.self),
            errors: String(decoding: errors, as: UTF8.self)
        )
    }

    static func temporaryFile(_ content: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("verdict-\(UUID().uuidString).txt")
        try Data(content.utf8).write(to: url)
        return url
    }

    @Test func theExecutableIsBuilt() {
        #expect(FileManager.default.isExecutableFile(atPath: Self.executable.path), "\(Self.executable.path)")
    }

    @Test func textFromAFileGivesTheDesignExample() async throws {
        let file = try Self.temporaryFile("Failed login from 185.220.101.4 (host 10.0.0.50)\n")
        defer { try? FileManager.default.removeItem(at: file) }
        let run = try await Self.run(["extract", "--text", file.path])
        #expect(run.status == 0)
        #expect(
            run.output
                == #"{"indicators":[{"type":"ipv4","value":"185.220.101.4"}],"suppressed":[{"type":"ipv4","value":"10.0.0.50","reason":"private"}]}"#
                + "\n"
        )
    }

    @Test func textFromStandardInput() async throws {
        let run = try await Self.run(["extract", "--text", "-"], input: "see hxxps://evil-site[.]com/a")
        #expect(run.status == 0)
        #expect(run.output.contains(#"{"type":"url","value":"https://evil-site.com/a"}"#))
    }

    @Test func alertsGiveOneLinePerAlertAndAnErrorObjectPerBadLine() async throws {
        let input = """
            {"data":{"srcip":"185.220.101.4"},"full_log":"from 185.220.101.4"}
            {"broken":

            {"data":{"win":{"eventdata":{"destinationIp":"10.1.1.1"}}}}
            """
        let run = try await Self.run(["extract", "--alerts", "-"], input: input)
        #expect(run.status == 0)
        let lines = run.output.split(separator: "\n").map(String.init)
        #expect(lines.count == 3)
        #expect(
            lines[0]
                == #"{"indicators":[{"type":"ipv4","value":"185.220.101.4","field":"data.srcip"}],"suppressed":[]}"#
        )
        #expect(lines[1].hasPrefix(#"{"error":"line 2 is not a JSON alert: "#) && lines[1].hasSuffix(#","line":2}"#))
        #expect(
            lines[2]
                == #"{"indicators":[],"suppressed":[{"type":"ipv4","value":"10.1.1.1","reason":"private","field":"data.win.eventdata.destinationip"}]}"#
        )
    }

    @Test func aMissingFileIsOneClearLineAndExitCodeTwo() async throws {
        for mode in ["--text", "--alerts"] {
            let run = try await Self.run(["extract", mode, "/no/such/file.json"])
            #expect(run.status == 2)
            #expect(run.output.isEmpty)
            #expect(run.errors == "verdict: cannot open /no/such/file.json: no such file\n")
        }
    }

    @Test func usageErrorsSayWhatToDo() async throws {
        let run = try await Self.run(["extract"])
        #expect(run.status != 0)
        #expect(run.errors.contains("give exactly one of --text FILE or --alerts FILE"))
    }

    @Test func feedsDirectoryChangesSuppression() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "verdict-feeds-\(UUID().uuidString)"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data("185.220.101.0/24\n".utf8).write(to: directory.appendingPathComponent("allowlist.txt"))
        let run = try await Self.run(
            ["extract", "--text", "-"],
            input: "185.220.101.4",
            environment: ["VERDICT_FEEDS_DIR": directory.path]
        )
        #expect(run.output.contains(#""reason":"allowlist""#))

        try Data("{".utf8).write(to: directory.appendingPathComponent("warninglist-policies.json"))
        let broken = try await Self.run(
            ["extract", "--text", "-"],
            input: "x",
            environment: ["VERDICT_FEEDS_DIR": directory.path]
        )
        #expect(broken.status == 2)
        #expect(broken.errors.hasPrefix("verdict: VERDICT_FEEDS_DIR: "))
        #expect(broken.errors.contains("warninglist-policies.json is not valid JSON"))

        let missing = try await Self.run(
            ["extract", "--text", "-"],
            input: "x",
            environment: ["VERDICT_FEEDS_DIR": "/no/such/dir"]
        )
        #expect(missing.status == 2)
        #expect(missing.errors.contains("VERDICT_FEEDS_DIR=/no/such/dir is not a directory"))
    }

    @Test func binaryGarbageIsNotACrash() async throws {
        let garbage = String(decoding: (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7919) }, as: UTF8.self)
        let text = try await Self.run(["extract", "--text", "-"], input: garbage)
        #expect(text.status == 0)
        let alerts = try await Self.run(["extract", "--alerts", "-"], input: garbage)
        #expect(alerts.status == 0)
        #expect(alerts.output.split(separator: "\n").allSatisfy { $0.hasPrefix(#"{"error":"#) })
    }
}
