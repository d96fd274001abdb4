import VerdictCore
import VerdictStore

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
///
/// Messages quote values from alerts, which anyone who can make a log line can shape: control characters
/// are escaped (`\n` as `\\n`), so one message is always one line, and the file is never opened through a
/// symbolic link (the `logs/` folder is the `wazuh` group's).
public struct IntegrationLog: Sendable {
    public let path: String
    public let program: String

    public init(path: String, program: String) {
        self.path = path
        self.program = program
    }

    public func write(_ message: String) {
        let line = Array("\(Self.timestamp()) \(program): \(Self.escaped(message))\n".utf8)
        let descriptor = PrivateFile.open(path, O_WRONLY | O_APPEND | O_CREAT, mode: 0o640)
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }
        // One write per line: O_APPEND keeps lines of concurrent processes whole.
        _ = line.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
    }

    /// The message with every control character written out: `\n`, `\r`, `\t`, others as `\u{1b}`.
    static func escaped(_ message: String) -> String {
        guard message.unicodeScalars.contains(where: Self.isControl) else { return message }
        var result = ""
        for scalar in message.unicodeScalars {
            switch scalar {
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where isControl(scalar): result += "\\u{" + String(scalar.value, radix: 16) + "}"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// C0, DEL, C1, and the bidirectional overrides that make a line read differently than it is.
    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.isBidirectionalControl
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
