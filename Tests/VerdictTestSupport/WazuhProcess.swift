import Foundation

/// Runs a built executable the way Wazuh's daemons do: argv[0] as given (`integrations`), the working
/// directory the Wazuh home, standard input /dev/null or a pipe that is kept open.
public enum WazuhProcess {
    public struct Finished: Sendable {
        public var status: Int32
        public var elapsed: Duration
        public var output: String
    }

    /// The build folder next to the test bundle (where `custom-verdict` and `verdict-ar` are built).
    public static let buildProducts: URL = {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4
        where !FileManager.default.fileExists(atPath: directory.appendingPathComponent("custom-verdict").path) {
            directory.deleteLastPathComponent()
        }
        return directory
    }()

    /// - Parameters:
    ///   - argv0: what the program sees as argv[0] (bash's `exec -a` sets it).
    ///   - stdinLine: written to a pipe that stays open until the process exits, as wazuh-execd does; nil
    ///     gives /dev/null.
    /// Waits on a thread of its own, so the test's cooperative threads stay free (a blocked pool would slow
    /// every other test running meanwhile).
    public static func run(
        _ executable: URL,
        argv0: String,
        arguments: [String],
        home: String,
        environment: [String: String] = [:],
        stdinLine: String? = nil
    ) async throws -> Finished {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(
                    with: Result {
                        try runBlocking(
                            executable,
                            argv0: argv0,
                            arguments: arguments,
                            home: home,
                            environment: environment,
                            stdinLine: stdinLine
                        )
                    }
                )
            }
            thread.start()
        }
    }

    static func runBlocking(
        _ executable: URL,
        argv0: String,
        arguments: [String],
        home: String,
        environment: [String: String],
        stdinLine: String?
    ) throws -> Finished {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments =
            ["-c", "cd \"$0\" && exec -a \"$1\" \"$2\" \"${@:3}\"", home, argv0, executable.path]
            + arguments
        var merged = ProcessInfo.processInfo.environment
        for name in merged.keys where name.hasPrefix("VERDICT_") { merged.removeValue(forKey: name) }
        merged.merge(environment) { $1 }
        process.environment = merged
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        let input = Pipe()
        if stdinLine != nil {
            process.standardInput = input
        } else {
            process.standardInput = FileHandle.nullDevice
        }
        let started = ContinuousClock.now
        try process.run()
        if let stdinLine { input.fileHandleForWriting.write(Data(stdinLine.utf8)) }
        let captured = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let elapsed = ContinuousClock.now - started
        if stdinLine != nil { try? input.fileHandleForWriting.close() }
        return Finished(
            status: process.terminationStatus,
            elapsed: elapsed,
            output: String(decoding: captured, as: UTF8.self)
        )
    }
}
