#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Which per-alert program a relay stands in for.
public enum RelayedProgram: String, Sendable, CaseIterable {
    /// `integrations/custom-verdict`, run by wazuh-integratord with the alert file in its arguments.
    case integration = "custom-verdict"
    /// `active-response/bin/verdict-ar`, run by wazuh-execd with the message on standard input.
    case activeResponse = "verdict-ar"
}

/// One run handed from a relay to the warm engine: what the program would have seen had it run itself. The
/// engine runs it exactly as a cold start would (same arguments, environment, working directory and start time).
public struct RelayRequest: Sendable, Equatable {
    public var program: RelayedProgram
    /// The relay's own executable, symlinks resolved: the Wazuh home is found from it.
    public var executablePath: String
    public var workingDirectory: String
    /// Arguments after argv[0].
    public var arguments: [String]
    public var environment: [String: String]
    /// How long ago (when it was encoded) the relay started: the run's time budget counts from then.
    public var elapsedNanoseconds: UInt64

    public init(
        program: RelayedProgram,
        executablePath: String,
        workingDirectory: String,
        arguments: [String],
        environment: [String: String],
        elapsedNanoseconds: UInt64
    ) {
        self.program = program
        self.executablePath = executablePath
        self.workingDirectory = workingDirectory
        self.arguments = arguments
        self.environment = environment
        self.elapsedNanoseconds = elapsedNanoseconds
    }

    static let magic = "verdict-relay-1"
    /// A request larger than this is refused unread (integratord's arguments and a process environment are far smaller).
    public static let largestEncoding = 1 << 20

    /// The request as sent: a 4-byte little-endian length, then NUL-terminated fields (magic, program, paths,
    /// elapsed time, argument count and arguments, variable count and `NAME=value` variables).
    public func encoded() -> [UInt8] {
        var fields = [Self.magic, program.rawValue, executablePath, workingDirectory, String(elapsedNanoseconds)]
        fields.append(String(arguments.count))
        fields += arguments
        fields.append(String(environment.count))
        fields += environment.map { $0.key + "=" + $0.value }
        var body: [UInt8] = []
        for field in fields {
            body += field.utf8
            body.append(0)
        }
        let count = UInt32(body.count)
        return [UInt8(count & 0xFF), UInt8(count >> 8 & 0xFF), UInt8(count >> 16 & 0xFF), UInt8(count >> 24)] + body
    }

    public struct Malformed: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// The length a request's first four bytes announce.
    public static func length(prefix: [UInt8]) throws(Malformed) -> Int {
        guard prefix.count == 4 else { throw Malformed(description: "a request starts with a 4-byte length") }
        let length = Int(prefix[0]) | Int(prefix[1]) << 8 | Int(prefix[2]) << 16 | Int(prefix[3]) << 24
        guard length <= largestEncoding else {
            throw Malformed(description: "a request of \(length) bytes is too large")
        }
        return length
    }

    /// Reads the fields after the length prefix.
    public init(body: [UInt8]) throws(Malformed) {
        var fields = body.split(separator: 0, omittingEmptySubsequences: false).map {
            String(decoding: $0, as: UTF8.self)
        }
        guard fields.last == "" else { throw Malformed(description: "a request ends with a NUL") }
        fields.removeLast()
        var cursor = fields.makeIterator()
        func next() throws(Malformed) -> String {
            guard let field = cursor.next() else { throw Malformed(description: "a request ended early") }
            return field
        }
        func count() throws(Malformed) -> Int {
            guard let count = Int(try next()), count >= 0 else {
                throw Malformed(description: "a count is not a number")
            }
            return count
        }
        guard try next() == Self.magic else { throw Malformed(description: "not a relay request of this version") }
        guard let program = RelayedProgram(rawValue: try next()) else {
            throw Malformed(description: "unknown program")
        }
        self.program = program
        executablePath = try next()
        workingDirectory = try next()
        guard let elapsed = UInt64(try next()) else { throw Malformed(description: "the elapsed time is not a number") }
        elapsedNanoseconds = elapsed
        arguments = []
        for _ in 0..<(try count()) { arguments.append(try next()) }
        environment = [:]
        for _ in 0..<(try count()) {
            guard let (name, value) = Self.variable(try next()) else {
                throw Malformed(description: "a variable without =")
            }
            environment[name] = value
        }
        guard cursor.next() == nil else { throw Malformed(description: "a request has fields left over") }
    }
}

extension RelayRequest {
    /// `NAME=value` split at its first `=`; nil without one.
    static func variable(_ text: String) -> (name: String, value: String)? {
        guard let equals = text.utf8.firstIndex(of: UInt8(ascii: "=")) else { return nil }
        return (String(text[..<equals]), String(text[text.index(after: equals)...]))
    }
}

/// What the engine answers on the connection, one line each: `accepted` once it has read the request whole,
/// then `exit N` with the run's exit code.
public enum RelayReply: Equatable, Sendable {
    case accepted
    case exit(Int32)

    /// The line as sent, newline included.
    public var line: String {
        switch self {
        case .accepted: "accepted\n"
        case .exit(let code): "exit \(code)\n"
        }
    }

    /// A line as read (without its newline); nil for anything else.
    public init?(line: String) {
        if line == "accepted" {
            self = .accepted
        } else if line.hasPrefix("exit "), let code = Int32(line.dropFirst(5)) {
            self = .exit(code)
        } else {
            return nil
        }
    }
}
