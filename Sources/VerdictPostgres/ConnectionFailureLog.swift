import Foundation
import Logging
import Synchronization

/// The pool's latest failed connection attempt. postgres-nio tells only its background logger why a connection
/// could not be made (a call just waits for one until its deadline), and that reason is what the operator needs:
/// a wrong password, a server without TLS for `sslmode=require`, nothing listening.
final class ConnectionFailureLog: Sendable {
    private let latest = Mutex<Failure?>(nil)
    /// Stripped from every reason, should a server ever echo it.
    private let password: String?

    init(password: String?) {
        self.password = password
    }

    /// A logger for `PostgresClient(backgroundLogger:)` that keeps the failures and drops everything else.
    var logger: Logger {
        Logger(label: "verdict.postgres") { _ in Handler(log: self) }
    }

    struct Failure: Sendable {
        let reason: String
        /// Trying again will not help: wrong credentials, no such database, TLS refused or not trusted.
        let isPermanent: Bool
        let at: ContinuousClock.Instant
    }

    func record(_ description: String) {
        var reason = Self.reason(from: description)
        if let password, !password.isEmpty { reason = reason.replacingOccurrences(of: password, with: "***") }
        let state = Self.field("sqlState", in: description) ?? ""
        let isPermanent =
            state.hasPrefix("28") || state == "3D000" || description.contains("code: sslUnsupported")
            || description.contains("handshakeFailed")
        let failure = Failure(reason: reason, isPermanent: isPermanent, at: .now)
        latest.withLock { $0 = failure }
    }

    /// The latest failure, if it happened after `instant`.
    func failure(since instant: ContinuousClock.Instant) -> Failure? {
        latest.withLock { latest in latest.flatMap { $0.at >= instant ? $0 : nil } }
    }

    /// What an operator can act on, from `String(reflecting: PSQLError)`: the server's message and SQLSTATE when
    /// it sent one, else the client's error code and the cause of a failed connection.
    static func reason(from description: String) -> String {
        if let message = field("message", in: description) {
            let state = field("sqlState", in: description).map { " (SQLSTATE \($0))" } ?? ""
            return "the server said: \(message)\(state)"
        }
        if description.contains("code: sslUnsupported") {
            return
                "the server does not offer TLS, which the URL's sslmode requires (turn on ssl in postgresql.conf, or use sslmode=prefer or disable on a trusted network)"
        }
        if description.localizedLowercase.contains("connection refused") {
            return "connection refused (nothing listens on that host and port)"
        }
        if let code = field("code", in: description) {
            let underlying = description.range(of: "underlying: ").map {
                String(description[$0.upperBound...].prefix(200))
            }
            return underlying.map { "\(code): \($0)" } ?? code
        }
        return String(description.prefix(200))
    }

    /// The value after `name: ` in postgres-nio's debug description, which lists the server's fields in the order
    /// of their codes (`[sqlState: …, file: …, message: …, routine: …]`): a message may hold commas, and ends
    /// where a field that follows it begins; other values end at the next comma.
    static func field(_ name: String, in description: String) -> String? {
        guard let start = description.range(of: "\(name): ") else { return nil }
        let rest = description[start.upperBound...]
        let terminators =
            name == "message"
            ? [", position: ", ", routine: ", ", localizedSeverity: ", ", severity: ", "]"] : [", ", "]", ")"]
        let ends = terminators.compactMap { rest.range(of: $0)?.lowerBound }
        let value = ends.min().map { rest[..<$0] } ?? rest
        return value.isEmpty ? nil : String(value)
    }

    struct Handler: LogHandler {
        let log: ConnectionFailureLog
        var metadata: Logger.Metadata = [:]
        var metadataProvider: Logger.MetadataProvider?
        // Connection failures are postgres-nio's only info messages; every lease and query logs at debug.
        var logLevel: Logger.Level = .info

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            guard event.message.description == "Connection creation failed", let error = event.metadata?["psql_error"]
            else { return }
            log.record("\(error)")
        }
    }
}
