import Foundation
import HTTPTypes
import Hummingbird
import Synchronization
import VerdictCore
import VerdictStore

/// Finds the key behind `Authorization: Bearer …`. Keys found are remembered for a second so that a busy
/// key costs no store read per request; a revocation therefore takes effect within a second.
final class KeyAuthenticator: Sendable {
    let accounts: any AccountStore
    let rememberSeconds: Double

    private struct Remembered {
        var hash: [UInt8]
        var key: APIKey
        var checkedAt: Double
    }

    /// By the key's clear prefix; the hash is compared in constant time, as in the store.
    private let remembered = Mutex<[String: [Remembered]]>([:])
    static let capacity = 10_000

    init(accounts: any AccountStore, rememberSeconds: Double = 1) {
        self.accounts = accounts
        self.rememberSeconds = rememberSeconds
    }

    func authenticate(_ request: Request) async throws -> APIKey {
        let secret = try Self.bearerToken(request.headers)
        let now = Date().timeIntervalSince1970
        guard let prefix = APIKeySecret.prefix(of: secret) else { throw Self.unknownKey() }
        let hash = APIKeySecret.hash(secret)
        let known = remembered.withLock { table in
            table[prefix]?.first {
                APIKeySecret.constantTimeEqual($0.hash, hash) && now - $0.checkedAt < rememberSeconds
            }
        }
        if let known { return known.key }
        let found: APIKey?
        do {
            found = try await accounts.authenticate(secret: secret)
        } catch {
            throw APIError.storeUnavailable()
        }
        guard let found else { throw Self.unknownKey() }
        remembered.withLock { table in
            if table.count >= Self.capacity { table.removeAll(keepingCapacity: true) }
            var entries = table[prefix, default: []].filter { !APIKeySecret.constantTimeEqual($0.hash, hash) }
            entries.append(Remembered(hash: hash, key: found, checkedAt: now))
            table[prefix] = entries
        }
        return found
    }

    /// The token of a Bearer header, or a 401 that says what is wrong with the header.
    static func bearerToken(_ headers: HTTPFields) throws -> String {
        guard let header = headers[.authorization], !header.isEmpty else {
            throw unauthorized(
                "missing_api_key",
                "no API key: send the header Authorization: Bearer <your API key>"
            )
        }
        // Bytes, not Characters: this runs on every request.
        let bytes = Array(header.utf8)
        let scheme = Array("bearer ".utf8)
        guard bytes.count > scheme.count,
            zip(bytes, scheme).allSatisfy({ $0 | 0x20 == $1 })
        else {
            throw unauthorized(
                "invalid_authorization",
                "the Authorization header must be \"Bearer <your API key>\""
            )
        }
        let rest = bytes[scheme.count...].drop { $0 == 0x20 || $0 == 0x09 }
        let trimmed = rest.reversed().drop { $0 == 0x20 || $0 == 0x09 }.reversed()
        guard !trimmed.isEmpty else {
            throw unauthorized("invalid_authorization", "the Authorization header must be \"Bearer <your API key>\"")
        }
        guard !trimmed.contains(where: { $0 <= 0x20 || $0 == 0x7F }) else {
            throw unauthorized(
                "malformed_api_key",
                "the API key contains whitespace; copy it again as one word, without spaces or line breaks"
            )
        }
        let token = String(decoding: trimmed, as: UTF8.self)
        return token
    }

    static func unknownKey() -> APIError {
        unauthorized(
            "unknown_api_key",
            "the API key is not known to this server or has been revoked. Keys live per database: create it with `verdict keys create` on the database this server uses (the same --database or VERDICT_DATA_DIR), or ask for a new key"
        )
    }

    static func unauthorized(_ code: String, _ message: String) -> APIError {
        APIError(.unauthorized, code: code, message: message, headers: [.wwwAuthenticate: "Bearer"])
    }
}

/// Requests per key: a token bucket per key, in this process.
final class KeyRateLimiter: Sendable {
    let window: RateWindowSettings?

    struct RateWindowSettings: Sendable {
        var capacity: Double
        var perSecond: Double
    }

    private struct Bucket {
        var tokens: Double
        var updatedAt: Double
    }

    private let buckets = Mutex<[Int64: Bucket]>([:])

    init(limit: Int?, seconds: Int) {
        window = limit.map { RateWindowSettings(capacity: Double($0), perSecond: Double($0) / Double(seconds)) }
    }

    /// Takes one token for the key, or throws 429 with the seconds until the next one.
    func admit(_ key: APIKey, now: Double = Date().timeIntervalSince1970) throws {
        guard let window else { return }
        let wait: Double? = buckets.withLock { buckets in
            var bucket = buckets[key.id] ?? Bucket(tokens: window.capacity, updatedAt: now)
            bucket.tokens = min(window.capacity, bucket.tokens + (now - bucket.updatedAt) * window.perSecond)
            bucket.updatedAt = now
            defer { buckets[key.id] = bucket }
            guard bucket.tokens >= 1 else { return (1 - bucket.tokens) / window.perSecond }
            bucket.tokens -= 1
            return nil
        }
        if let wait {
            let seconds = max(1, Int(wait.rounded(.up)))
            throw APIError(
                .tooManyRequests,
                code: "rate_limited",
                message:
                    "key \(key.name) sent more than \(Int(window.capacity)) requests in \(Int(window.capacity / window.perSecond)) s; retry after \(seconds) s",
                fields: [("retry_after_s", .number(String(seconds)))],
                headers: [.retryAfter: String(seconds)]
            )
        }
    }
}
