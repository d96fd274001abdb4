import Foundation
import VerdictCore
import VerdictEngine
import VerdictRelay
import VerdictSources
import VerdictStore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
import VerdictRelay
#endif

/// One message of wazuh-execd's JSON protocol (docs/wazuh.md §4), checked as Wazuh's own helpers
/// check it: `version` a number, `origin` an object, `command` a string, `parameters` an object.
public struct ActiveResponseMessage: Sendable, Equatable {
    public var command: String
    public var alert: JSONValue?
    public var extraArguments: [String]

    public init(line: [UInt8]) throws(IntegrationFailure) {
        let document: JSONValue
        do {
            document = try JSONValue(parsing: line)
        } catch {
            throw IntegrationFailure(
                .alertNotJSON,
                "invalid input format: the line from execd is not JSON (\(error.description))"
            )
        }
        guard case .number? = document["version"], case .object? = document["origin"],
            case .string(let command)? = document["command"], case .object? = document["parameters"]
        else {
            throw IntegrationFailure(
                .alertNotJSON,
                "invalid input format: expected version, origin, command and parameters (the Wazuh 4.2+ JSON message)"
            )
        }
        self.command = command
        alert = document["parameters"]?["alert"]
        if case .array(let items)? = document["parameters"]?["extra_args"] {
            extraArguments = items.compactMap(\.scalarText)
        } else {
            extraArguments = []
        }
    }
}

/// Reads exactly one line from a descriptor, never waiting for end of file (execd keeps stdin open:
/// docs/wazuh.md §4), and never past the deadline.
public func readOneLine(from descriptor: Int32, deadline: ContinuousClock.Instant, limit: Int = 1 << 20)
    throws(IntegrationFailure) -> [UInt8]
{
    var line: [UInt8] = []
    var byte: UInt8 = 0
    while true {
        let remaining = deadline - ContinuousClock.now
        guard remaining > .zero else {
            throw IntegrationFailure(
                .alertNotJSON,
                line.isEmpty
                    ? "no message from execd on standard input before the time budget ran out"
                    : "the message from execd did not end with a new line before the time budget ran out"
            )
        }
        var waiting = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        let milliseconds = Int32(min(1000, max(1, remaining.milliseconds)))
        guard poll(&waiting, 1, milliseconds) > 0 else { continue }
        let count = read(descriptor, &byte, 1)
        if count == 1 {
            if byte == 0x0A { return line }
            line.append(byte)
            guard line.count <= limit else {
                throw IntegrationFailure(.alertNotJSON, "the message from execd is longer than \(limit) bytes")
            }
        } else if count == 0 {
            guard !line.isEmpty else {
                throw IntegrationFailure(.alertNotJSON, "standard input closed without a message from execd")
            }
            return line
        } else if errno != EINTR && errno != EAGAIN {
            throw IntegrationFailure(.alertNotJSON, "cannot read standard input: \(QueueSocket.errorText(errno))")
        }
    }
}

/// `readOneLine` on a thread of its own: its `poll` waits must not hold a thread of the cooperative pool.
func readOneLineOffPool(from descriptor: Int32, deadline: ContinuousClock.Instant) async throws(IntegrationFailure)
    -> [UInt8]
{
    do {
        return try await runBlocking { try readOneLine(from: descriptor, deadline: deadline) }
    } catch let failure as IntegrationFailure {
        throw failure
    } catch {
        throw IntegrationFailure(.alertNotJSON, "cannot read standard input: \(error)")
    }
}

/// `verdict-ar`: the active-response variant (docs/wazuh.md §4). Stateless: it sends no check_keys
/// and execd does not wait on it; `add` enriches `parameters.alert`, `delete` does nothing.
public enum ActiveResponseRun {
    public static let program = "active-response/bin/verdict-ar"

    /// `<extra_args>` may set the integration options as `name=value` (`min_verdict=malicious`,
    /// `sources=abuseipdb,virustotal`, `timeout=5`).
    public static func run(input descriptor: Int32, context: WazuhRunContext) async -> Int32 {
        // Before any file is opened: as root, the log and the store would be written where a `wazuh` user
        // points them. Nothing can be logged safely before this, so a refusal goes to standard error.
        do throws(WazuhIdentity.Refusal) {
            try WazuhIdentity.dropRoot(home: context.home)
        } catch {
            FileHandle.standardError.write(Data("verdict-ar: \(error.description)\n".utf8))
            return error.exitCode
        }
        let log = IntegrationLog(path: context.home + "/logs/active-responses.log", program: program)
        return await WazuhRunContext.exitCode(logging: log) {
            var deadline = context.started + .seconds(5)
            let message = try ActiveResponseMessage(
                line: try await readOneLineOffPool(from: descriptor, deadline: deadline)
            )
            switch message.command {
            case "delete":
                return
            case "add":
                break
            default:
                throw IntegrationFailure(
                    .alertNotJSON,
                    "unknown command \"\(message.command)\"; expected add or delete"
                )
            }
            guard let alert = message.alert, case .object = alert else {
                throw IntegrationFailure(.alertNotJSON, "invalid input format: parameters.alert is missing")
            }
            let options = try options(from: message.extraArguments)
            if let seconds = options.timeoutSeconds {
                deadline = context.started + .milliseconds(Int64(seconds * 1000))
            }
            HardDeadline.arm(after: (options.timeoutSeconds ?? 5) + 1, log: log, finishEarly: context.finishEarly)
            // Read once: they name the server (client mode) and, without one, configure the engine.
            let configuration = try await context.configuration()
            try await context.enrich(
                alert,
                options: options,
                serverURL: configuration.clientURL,
                apiKey: configuration.clientAPIKey ?? "",
                deadline: deadline,
                log: log,
                configuration: configuration
            )
        }
    }

    static func options(from arguments: [String]) throws(IntegrationFailure) -> IntegrationOptions {
        guard !arguments.isEmpty else { return IntegrationOptions() }
        var members: [(key: String, value: JSONValue)] = []
        for argument in arguments {
            let parts = argument.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else {
                throw IntegrationFailure(
                    .badSettings,
                    "extra_args \"\(argument)\" is not name=value (min_verdict=malicious, sources=a,b, timeout=5)"
                )
            }
            switch parts[0] {
            case "sources", "skip_fields":
                members.append((parts[0], .array(parts[1].split(separator: ",").map { .string(String($0)) })))
            case "timeout", "max_per_type":
                guard Double(parts[1]) != nil else {
                    throw IntegrationFailure(.badSettings, "extra_args \"\(argument)\": \(parts[0]) must be a number")
                }
                members.append((parts[0], .number(parts[1])))
            default:
                members.append((parts[0], .string(parts[1])))
            }
        }
        var writer = JSONWriter()
        writer.value(.object(members))
        return try IntegrationOptions(json: writer.bytes, file: "<extra_args>")
    }
}
