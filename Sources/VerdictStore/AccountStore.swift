import Crypto
import Foundation
import VerdictCore

/// What a key may spend each calendar month (UTC), docs/contracts.md §2.
public enum Plan: String, Sendable, CaseIterable, Codable {
    case free, starter, professional, enterprise

    /// Credits per month; nil is unlimited.
    public var monthlyCredits: Int? {
        switch self {
        case .free: 100
        case .starter: 500
        case .professional: 2_500
        case .enterprise: nil
        }
    }
}

/// An API key as stored: never the key itself, only its SHA-256 and the first characters that identify it.
public struct APIKey: Sendable, Equatable {
    public var id: Int64
    public var name: String
    /// The first characters after `vk_`, shown in listings so a key can be recognised without revealing it.
    public var prefix: String
    public var plan: Plan
    /// Credits per month; nil is unlimited.
    public var monthlyCredits: Int?
    public var createdAt: Date
    public var revokedAt: Date?

    public var isRevoked: Bool { revokedAt != nil }

    public init(
        id: Int64,
        name: String,
        prefix: String,
        plan: Plan,
        monthlyCredits: Int?,
        createdAt: Date,
        revokedAt: Date?
    ) {
        self.id = id
        self.name = name
        self.prefix = prefix
        self.plan = plan
        self.monthlyCredits = monthlyCredits
        self.createdAt = createdAt
        self.revokedAt = revokedAt
    }
}

/// A new key and its secret, which exists only here: it is shown once and stored as a hash.
public struct CreatedKey: Sendable {
    public var key: APIKey
    public var secret: String
}

/// One key's figures for one month.
public struct KeyUsage: Sendable, Equatable {
    /// `YYYY-MM`, UTC.
    public var month: String
    /// Credits charged this month, including reservations of requests still running.
    public var creditsUsed: Int
    /// Credits left this month; nil for an unlimited plan.
    public var creditsLeft: Int?
    public var counters: UsageCounters

    public init(
        month: String,
        creditsUsed: Int,
        creditsLeft: Int?,
        counters: UsageCounters
    ) {
        self.month = month
        self.creditsUsed = creditsUsed
        self.creditsLeft = creditsLeft
        self.counters = counters
    }
}

/// Counts that do not spend credits; the server adds them up in memory and writes them in batches.
public struct UsageCounters: Sendable, Equatable {
    public var requests = 0
    public var lookups = 0
    public var cacheHits = 0
    /// Indicators for which an outside source answered (the ones credits are charged for).
    public var upstreamLookups = 0
    public var suppressed = 0

    public init(requests: Int = 0, lookups: Int = 0, cacheHits: Int = 0, upstreamLookups: Int = 0, suppressed: Int = 0)
    {
        self.requests = requests
        self.lookups = lookups
        self.cacheHits = cacheHits
        self.upstreamLookups = upstreamLookups
        self.suppressed = suppressed
    }

    public static func += (lhs: inout UsageCounters, rhs: UsageCounters) {
        lhs.requests += rhs.requests
        lhs.lookups += rhs.lookups
        lhs.cacheHits += rhs.cacheHits
        lhs.upstreamLookups += rhs.upstreamLookups
        lhs.suppressed += rhs.suppressed
    }

    public var isZero: Bool { self == UsageCounters() }
}

/// Credits held for a request before its lookups run; settle it with what was really spent.
public struct CreditReservation: Sendable, Equatable {
    public var id: Int64
    public var keyID: Int64
    public var month: String
    public var amount: Int

    public init(
        id: Int64,
        keyID: Int64,
        month: String,
        amount: Int
    ) {
        self.id = id
        self.keyID = keyID
        self.month = month
        self.amount = amount
    }
}

/// The answer to a reservation: held, or not enough credits (and nothing held).
public enum ReservationOutcome: Sendable, Equatable {
    case reserved(CreditReservation, remaining: Int?)
    case insufficient(required: Int, remaining: Int)
    /// The key was revoked (or removed) after the request was let in: nothing is reserved.
    case keyRevoked
}

/// Keys, credits and usage: the state every server replica shares (README.md "A short tour").
///
/// Credits are reserved before any source is asked and settled afterwards, each in one transaction, so
/// concurrent requests can never overspend a key and a failed lookup gives its credits back.
public protocol AccountStore: Sendable {
    /// Creates a key; the secret in the answer is never stored.
    func createKey(name: String, plan: Plan, monthlyCredits: Int?) async throws -> CreatedKey
    /// Every key, revoked ones included, oldest first.
    func keys() async throws -> [APIKey]
    /// Revokes the active key with this name; false when there is none.
    func revokeKey(named name: String) async throws -> Bool
    /// The active key whose secret this is, or nil.
    func authenticate(secret: String) async throws -> APIKey?
    /// Holds `amount` credits of this month's allowance, or reports that there are not enough.
    func reserveCredits(keyID: Int64, amount: Int, at time: Date) async throws -> ReservationOutcome
    /// Charges `charged` (at most the reservation) and gives back the rest; returns the credits left. Settling
    /// the same reservation again changes nothing, so a settlement whose answer was lost can be retried; one that
    /// comes after the stale-reservation sweep gave the credits back charges them again.
    func settle(_ reservation: CreditReservation, charged: Int, requestID: String) async throws -> Int?
    /// Adds counters, per key, to the month they were counted in.
    func addUsage(_ counters: [UsageKey: UsageCounters]) async throws
    /// A key's figures for the month of `time`.
    func usage(keyID: Int64, at time: Date) async throws -> KeyUsage
    /// Gives back reservations older than `age` seconds: requests of a process that died before settling.
    func releaseStaleReservations(olderThan age: Double, at time: Date) async throws -> Int
    /// When this key first looked each of these values up itself; values it never asked are absent.
    func ownLookups(keyID: Int64, of indicators: [Indicator]) async throws -> [Indicator: Date]
    /// Notes that this key has now looked these values up (a first time is kept).
    func recordOwnLookups(keyID: Int64, _ indicators: [Indicator], at time: Date) async throws
    /// Adds requests per key to the counts every replica shares for the rate window starting at `window`
    /// (seconds since 1970), and returns each key's total in it: what a replica did not let in itself, the others
    /// did (the per-key rate limit is one for all replicas). A count of 0 reads the total. Older windows go.
    func countRequests(_ counts: [Int64: Int], window: Int64) async throws -> [Int64: Int]
    /// Whether the store answers now.
    func isReachable() async -> Bool
}

/// Which counters: a key and a month.
public struct UsageKey: Hashable, Sendable {
    public var keyID: Int64
    public var month: String

    public init(keyID: Int64, month: String) {
        self.keyID = keyID
        self.month = month
    }
}

/// API key text: `vk_` then 40 random base64url characters (240 bits from the system's secure generator).
public enum APIKeySecret {
    public static let marker = "vk_"
    static let prefixLength = 8

    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<30).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let text = Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
        return marker + text
    }

    /// The characters kept in clear to find the key's row; nil when the text cannot be one of our keys.
    public static func prefix(of secret: String) -> String? {
        guard secret.hasPrefix(marker), secret.utf8.count == marker.utf8.count + 40 else { return nil }
        return String(secret.dropFirst(marker.count).prefix(prefixLength))
    }

    public static func hash(_ secret: String) -> [UInt8] {
        Array(SHA256.hash(data: Data(secret.utf8)))
    }

    /// Compares every byte whatever the first difference, so timing tells nothing about the stored hash.
    public static func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for index in lhs.indices { difference |= lhs[index] ^ rhs[index] }
        return difference == 0
    }
}

/// The calendar month of a moment, in UTC: `2026-11`. Arithmetic (Hinnant's civil-from-days), not a
/// Calendar: it runs on every request.
public func usageMonth(of time: Date) -> String {
    let days = Int64((time.timeIntervalSince1970 / 86_400).rounded(.down)) + 719_468
    let era = (days >= 0 ? days : days - 146_096) / 146_097
    let dayOfEra = days - era * 146_097
    let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
    let shiftedMonth = (5 * dayOfYear + 2) / 153
    let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
    let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    return "\(year)-\(month < 10 ? "0" : "")\(month)"
}

/// A key about to be stored, for every `AccountStore`: its name checked, its secret made (shown once, kept only
/// as a hash).
public struct KeyDraft: Sendable {
    public let name: String
    public let secret: String
    public let prefix: String
    public let hash: [UInt8]
    public let plan: Plan
    /// Credits per month; nil is unlimited.
    public let monthlyCredits: Int?
    public let createdAt: Date

    public init(name: String, plan: Plan, monthlyCredits: Int?) throws {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty, trimmed.count <= 64,
            trimmed.allSatisfy({ $0.isLetter || $0.isNumber || "-_.@".contains($0) })
        else {
            throw StoreError(
                "key name \"\(name)\" is not usable; use 1 to 64 letters, digits, '-', '_', '.' or '@'"
            )
        }
        if let monthlyCredits, monthlyCredits < 0 {
            throw StoreError("credits must be 0 or more, not \(monthlyCredits)")
        }
        self.name = trimmed
        secret = APIKeySecret.generate()
        prefix = APIKeySecret.prefix(of: secret)!
        hash = APIKeySecret.hash(secret)
        self.plan = plan
        self.monthlyCredits = monthlyCredits ?? plan.monthlyCredits
        createdAt = Date()
    }

    /// The stored key with the row's id, and its secret.
    public func created(id: Int64) -> CreatedKey {
        let key = APIKey(
            id: id,
            name: name,
            prefix: prefix,
            plan: plan,
            monthlyCredits: monthlyCredits,
            createdAt: createdAt,
            revokedAt: nil
        )
        return CreatedKey(key: key, secret: secret)
    }

    /// The refusal when an active key already has the name.
    public var nameTaken: StoreError {
        StoreError("a key named \"\(name)\" already exists; revoke it first or choose another name")
    }
}
