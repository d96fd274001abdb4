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

/// Requests per key: a token bucket per key in each process, which the other replicas' requests also drain.
/// Each replica counts what it lets in and, once a second (`share(with:)`), adds that to the store's count for
/// the key's current rate window; what the total holds beyond its own requests the others let in, and that is
/// taken from its bucket. So N replicas allow the limit, not N times it, at the cost of up to a second's lag
/// (and no store call per request).
final class KeyRateLimiter: Sendable {
    let window: RateWindowSettings?

    struct RateWindowSettings: Sendable {
        var capacity: Double
        var perSecond: Double
        var seconds: Int
    }

    private struct Bucket {
        var tokens: Double
        var updatedAt: Double
    }

    /// One key's requests in the current rate window, as far as this replica knows.
    private struct Shared {
        var window: Int64
        /// Let in here; of those, not yet added to the store's count.
        var mine = 0
        var unsent = 0
        /// The other replicas' requests already taken from the bucket.
        var othersTaken = 0
        var seenAt: Double
    }

    private let buckets = Mutex<[Int64: Bucket]>([:])
    private let shared = Mutex<[Int64: Shared]>([:])

    init(limit: Int?, seconds: Int) {
        window = limit.map {
            RateWindowSettings(capacity: Double($0), perSecond: Double($0) / Double(seconds), seconds: seconds)
        }
    }

    /// The start of the rate window that holds `time`.
    static func windowStart(_ time: Double, seconds: Int) -> Int64 {
        Int64((time / Double(seconds)).rounded(.down)) * Int64(seconds)
    }

    /// Takes one token for the key, or throws 429 with the seconds until the next one.
    func admit(_ key: APIKey, now: Double = Date().timeIntervalSince1970) throws {
        guard let window else { return }
        let wait: Double? = buckets.withLock { buckets in
            var bucket = Self.refilled(buckets[key.id], window: window, now: now)
            defer { buckets[key.id] = bucket }
            guard bucket.tokens >= 1 else { return (1 - bucket.tokens) / window.perSecond }
            bucket.tokens -= 1
            return nil
        }
        let current = Self.windowStart(now, seconds: window.seconds)
        shared.withLock { shared in
            var entry = shared[key.id] ?? Shared(window: current, seenAt: now)
            if entry.window != current { entry = Shared(window: current, seenAt: now) }
            if wait == nil {
                entry.mine += 1
                entry.unsent += 1
            }
            entry.seenAt = now
            shared[key.id] = entry
        }
        if let wait {
            let seconds = max(1, Int(wait.rounded(.up)))
            throw APIError(
                .tooManyRequests,
                code: "rate_limited",
                message:
                    "key \(key.name) sent more than \(Int(window.capacity)) requests in \(window.seconds) s; retry after \(seconds) s",
                fields: [("retry_after_s", .number(String(seconds)))],
                headers: [.retryAfter: String(seconds)]
            )
        }
    }

    /// Adds this replica's requests to the store's counts and takes from each key's bucket what the other replicas
    /// let in since the last share. A store that fails keeps the counts for the next share.
    func share(with accounts: any AccountStore, now: Double = Date().timeIntervalSince1970) async {
        guard let window else { return }
        let current = Self.windowStart(now, seconds: window.seconds)
        let batch: [Int64: Int] = shared.withLock { shared in
            var batch: [Int64: Int] = [:]
            for (keyID, var entry) in shared {
                // Keys not seen for two windows are forgotten; the others learn the current window's count.
                guard now - entry.seenAt <= Double(window.seconds * 2) else {
                    shared.removeValue(forKey: keyID)
                    continue
                }
                if entry.window != current { entry = Shared(window: current, seenAt: entry.seenAt) }
                batch[keyID] = entry.unsent
                entry.unsent = 0
                shared[keyID] = entry
            }
            return batch
        }
        guard !batch.isEmpty else { return }
        let totals: [Int64: Int]
        do {
            totals = try await accounts.countRequests(batch, window: current)
        } catch {
            shared.withLock { shared in
                for (keyID, count) in batch where shared[keyID]?.window == current { shared[keyID]?.unsent += count }
            }
            return
        }
        let taken: [Int64: Int] = shared.withLock { shared in
            var taken: [Int64: Int] = [:]
            for (keyID, total) in totals {
                guard var entry = shared[keyID], entry.window == current else { continue }
                // Requests let in here since the batch was made are in `mine` but not yet in the total.
                let others = total - (entry.mine - entry.unsent)
                if others > entry.othersTaken {
                    taken[keyID] = others - entry.othersTaken
                    entry.othersTaken = others
                }
                shared[keyID] = entry
            }
            return taken
        }
        buckets.withLock { buckets in
            for (keyID, count) in taken {
                var bucket = Self.refilled(buckets[keyID], window: window, now: now)
                bucket.tokens = max(-window.capacity, bucket.tokens - Double(count))
                buckets[keyID] = bucket
            }
        }
    }

    private static func refilled(_ bucket: Bucket?, window: RateWindowSettings, now: Double) -> Bucket {
        var bucket = bucket ?? Bucket(tokens: window.capacity, updatedAt: now)
        bucket.tokens = min(window.capacity, bucket.tokens + max(0, now - bucket.updatedAt) * window.perSecond)
        bucket.updatedAt = now
        return bucket
    }
}
