import Foundation
import NIOSSL
import PostgresNIO
import VerdictStore

/// Where the PostgreSQL database is, from a `postgres://user:password@host:port/name?sslmode=…` URL.
///
/// The password may be left out of the URL (so it is in no command line): `passfile=PATH` names a file holding
/// it, either alone on its first line or as PostgreSQL's own `host:port:database:user:password` lines.
public struct PostgresSettings: Sendable, Equatable {
    public enum TLSMode: String, Sendable, CaseIterable {
        /// No TLS.
        case disable
        /// TLS if the server offers it, unverified (libpq's default).
        case prefer
        /// TLS or no connection; the certificate is not checked.
        case require
        /// TLS, the certificate checked against the system's (or `sslrootcert`'s) authorities and the host name.
        case verifyFull = "verify-full"
    }

    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    public var tlsMode: TLSMode
    /// Authorities to trust for `verify-full` instead of the system's (PEM file).
    public var rootCertificate: String?

    /// The database as messages show it: never the password.
    public var location: String { "postgres://\(user)@\(host):\(port)/\(database)" }

    /// Whether `text` names a PostgreSQL database (rather than a SQLite path).
    public static func isURL(_ text: String) -> Bool {
        let lowered = text.lowercased()
        return lowered.hasPrefix("postgres://") || lowered.hasPrefix("postgresql://")
    }

    /// Reads the URL; every error says which part is wrong (with the password blanked out).
    public init(url text: String) throws {
        guard Self.isURL(text), let components = URLComponents(string: text) else {
            throw StoreError(
                "the database URL \(Self.redacted(text)) is not postgres://user:password@host:port/database; check it"
            )
        }
        guard let host = components.host, !host.isEmpty else {
            throw StoreError(
                "the database URL \(Self.redacted(text)) names no host; write postgres://user@HOST/database"
            )
        }
        guard let user = components.user, !user.isEmpty else {
            throw StoreError(
                "the database URL \(Self.redacted(text)) names no user; write postgres://USER@host/database"
            )
        }
        self.host = host
        self.port = components.port ?? 5432
        self.user = user.removingPercentEncoding ?? user
        self.password = components.password.map { $0.removingPercentEncoding ?? $0 }
        let name = String(components.path.drop { $0 == "/" })
        self.database = name.isEmpty ? self.user : (name.removingPercentEncoding ?? name)
        self.tlsMode = .prefer
        var passwordFile: String?
        for item in components.queryItems ?? [] {
            let value = item.value ?? ""
            switch item.name {
            case "sslmode":
                guard let mode = TLSMode(rawValue: value) else {
                    throw StoreError(
                        "the database URL's sslmode=\(value) is not one of disable, prefer, require, verify-full"
                    )
                }
                tlsMode = mode
            case "sslrootcert":
                rootCertificate = value
            case "passfile":
                passwordFile = value
            case "application_name", "connect_timeout":
                break
            default:
                throw StoreError(
                    "the database URL's \(item.name)= is not understood; use sslmode, sslrootcert or passfile"
                )
            }
        }
        if let passwordFile, password == nil {
            password = try Self.password(
                from: passwordFile,
                host: host,
                port: port,
                database: database,
                user: self.user
            )
        }
    }

    /// The URL with its password replaced, for error messages.
    public static func redacted(_ text: String) -> String {
        guard var components = URLComponents(string: text), components.password != nil else { return text }
        components.password = "****"
        return components.string ?? "postgres://…"
    }

    /// The password in `file`: PostgreSQL's `.pgpass` lines (`*` matches anything) or the file's first line.
    static func password(from file: String, host: String, port: Int, database: String, user: String) throws -> String {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw StoreError(
                "cannot read the database password file \(file) (passfile= in the URL); check the path and that Verdict's user can read it"
            )
        }
        let lines = text.split(whereSeparator: \.isNewline).map(String.init).filter {
            !$0.isEmpty && !$0.hasPrefix("#")
        }
        for line in lines {
            let fields = line.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard fields.count >= 5 else { continue }
            let wanted = [host, String(port), database, user]
            if zip(fields.prefix(4), wanted).allSatisfy({ $0 == "*" || $0 == $1 }) {
                return fields.dropFirst(4).joined(separator: ":")
            }
        }
        guard lines.count == 1, lines[0].split(separator: ":", omittingEmptySubsequences: false).count < 5 else {
            throw StoreError(
                "the database password file \(file) has no line for \(user)@\(host):\(port)/\(database); add host:port:database:user:password"
            )
        }
        return lines[0]
    }

    /// postgres-nio's TLS setting for the mode.
    func tls() throws -> PostgresClient.Configuration.TLS {
        switch tlsMode {
        case .disable:
            return .disable
        case .prefer, .require:
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateVerification = .none
            return tlsMode == .prefer ? .prefer(configuration) : .require(configuration)
        case .verifyFull:
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateVerification = .fullVerification
            if let rootCertificate {
                do {
                    configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(rootCertificate))
                } catch {
                    throw StoreError(
                        "cannot read sslrootcert=\(rootCertificate) (\(error)); give a PEM file of the authorities to trust"
                    )
                }
            }
            return .require(configuration)
        }
    }
}
