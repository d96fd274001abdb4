#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Appends timestamped lines to a Wazuh log file (`logs/integrations.log`, `logs/active-responses.log`) in
/// the format of Wazuh's own helpers: `2026/11/22 18:55:01 custom-verdict: message`. Never holds secrets:
/// callers pass messages, not arguments. A log that cannot be written is not a reason to fail the run.
public struct IntegrationLog: Sendable {
    public let path: String
    public let program: String

    public init(path: String, program: String) {
        self.path = path
        self.program = program
    }

    public func write(_ message: String) {
        let line = Array("\(Self.timestamp()) \(program): \(message)\n".utf8)
        let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }
        // One write per line: O_APPEND keeps lines of concurrent processes whole.
        _ = line.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
    }

    /// Local time, as `YYYY/MM/DD HH:MM:SS`.
    static func timestamp() -> String {
        var now = time(nil)
        var parts = tm()
        localtime_r(&now, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)/\(two(parts.tm_mon + 1))/\(two(parts.tm_mday)) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))"
    }
}
