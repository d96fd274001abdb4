import Foundation

/// `verdict serve` as a real process, its output in a file: what the port is, and a clean stop.
public final class VerdictServeProcess {
    public let process = Process()
    let output: URL

    public init(_ arguments: [String], environment: [String: String]) throws {
        output = FileManager.default.temporaryDirectory.appendingPathComponent("verdict-serve-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        process.executableURL = WazuhProcess.buildProducts.appendingPathComponent("verdict")
        process.arguments = arguments
        var merged = ProcessInfo.processInfo.environment
        merged.removeValue(forKey: "VERDICT_FEEDS_DIR")
        merged.merge(environment) { $1 }
        process.environment = merged
        let handle = try FileHandle(forWritingTo: output)
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    public var text: String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }

    /// The port from `verdict: listening on http://127.0.0.1:PORT`.
    public func port() async throws -> Int {
        for _ in 0..<300 {
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("verdict: listening on http://") }
            ),
                let port = Int(line.split(separator: ":").last ?? "")
            {
                return port
            }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw CancellationError()
    }

    public func stop() {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: output)
    }
}
