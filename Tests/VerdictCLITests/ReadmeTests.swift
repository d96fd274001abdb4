import Foundation
import Testing

/// The README's examples marked `sh runnable` run exactly as written, one after another in an empty folder
/// with a fresh home and no Verdict settings (a new user's shell with `verdict` on PATH), and each `output`
/// block after one is what it prints.
struct ReadmeTests {
    struct Example {
        var script: String
        var expectedOutput: String?
        var line: Int
    }

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The fenced blocks whose info string is `sh runnable`, each with the `… output` block right after it.
    static func examples(in text: String) -> [Example] {
        let lines = text.components(separatedBy: "\n")
        var examples: [Example] = []
        var index = 0
        func block(at start: Int) -> (body: String, end: Int) {
            var end = start + 1
            while end < lines.count && lines[end] != "```" { end += 1 }
            return (lines[(start + 1)..<min(end, lines.count)].joined(separator: "\n"), end)
        }
        while index < lines.count {
            let info = lines[index].hasPrefix("```") ? lines[index].dropFirst(3).split(separator: " ") : []
            guard info == ["sh", "runnable"] else {
                index += 1
                continue
            }
            let (script, end) = block(at: index)
            var example = Example(script: script, line: index + 1)
            var next = end + 1
            while next < lines.count && lines[next].isEmpty { next += 1 }
            if next < lines.count, lines[next].hasPrefix("```"), lines[next].hasSuffix(" output") {
                let (output, outputEnd) = block(at: next)
                example.expectedOutput = output
                index = outputEnd + 1
            } else {
                index = end + 1
            }
            examples.append(example)
        }
        return examples
    }

    @Test func theRunnableExamplesRunAsWritten() async throws {
        let readme = try String(contentsOf: Self.repository.appendingPathComponent("README.md"), encoding: .utf8)
        let examples = Self.examples(in: readme)
        #expect(examples.count >= 4, "the README marks its examples `sh runnable`")
        #expect(examples.contains { $0.expectedOutput != nil }, "and shows what some of them print")

        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "verdict-readme-\(UUID().uuidString)"
        )
        try FileManager.default.createDirectory(
            at: folder.appendingPathComponent("home"),
            withIntermediateDirectories: true
        )
        defer { try? FileManager.default.removeItem(at: folder) }
        let binaries = ExtractCommandTests.executable.deletingLastPathComponent().path
        let environment = [
            "PATH": binaries + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"),
            "HOME": folder.appendingPathComponent("home").path, "LANG": "C.UTF-8",
        ]
        for example in examples {
            let run = try await Self.bash(example.script, in: folder, environment: environment)
            #expect(run.status == 0, "README line \(example.line) failed: \(run.errors)")
            if let expected = example.expectedOutput {
                #expect(run.output == expected + "\n", "README line \(example.line) prints something else")
            }
        }
    }

    @Test func theParserFindsExamplesAndTheirOutput() {
        let text =
            "x\n```sh runnable\necho a\n```\n\n```json output\na\n```\n```sh\nnot run\n```\n```sh runnable\ntrue\n```"
        let examples = Self.examples(in: text)
        #expect(examples.map(\.script) == ["echo a", "true"])
        #expect(examples.map(\.expectedOutput) == ["a", nil])
        #expect(examples.map(\.line) == [2, 12])
    }

    /// bash with exactly this environment (nothing of the test runner's), on a thread of its own.
    static func bash(_ script: String, in folder: URL, environment: [String: String]) async throws
        -> ExtractCommandTests.Run
    {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(
                    with: Result {
                        let process = Process()
                        process.executableURL = URL(fileURLWithPath: "/bin/bash")
                        process.arguments = ["-euo", "pipefail", "-c", script]
                        process.environment = environment
                        process.currentDirectoryURL = folder
                        let stdout = Pipe()
                        let stderr = Pipe()
                        process.standardInput = FileHandle.nullDevice
                        process.standardOutput = stdout
                        process.standardError = stderr
                        try process.run()
                        let output = stdout.fileHandleForReading.readDataToEndOfFile()
                        let errors = stderr.fileHandleForReading.readDataToEndOfFile()
                        process.waitUntilExit()
                        return ExtractCommandTests.Run(
                            status: process.terminationStatus,
                            output: String(decoding: output, as: UTF8.self),
                            errors: String(decoding: errors, as: UTF8.self)
                        )
                    }
                )
            }.start()
        }
    }
}
