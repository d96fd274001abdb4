import Foundation
import GRDB
import Testing
import VerdictPostgres
import VerdictSQLite
import VerdictStore

/// Keys, credits and usage: hashes only, months, reservations, the sweep; the same tests on every database.
struct AccountStoreTests {
    static let kinds = StoreKind.kinds([.memory, .sqlite, .postgres])

    /// An account store of that kind, in a database of its own (removed by `cleanUp`).
    static func make(_ kind: StoreKind) async throws -> (accounts: any AccountStore, cleanUp: @Sendable () -> Void) {
        let database = try await kind.database()
        return (accounts(on: database), database.cleanUp)
    }

    static func accounts(on database: StoreKind.Database) -> any AccountStore {
        if let postgres = database.postgres { return PostgresAccountStore(database: postgres) }
        if let sqlite = database.sqlite { return SQLiteAccountStore(database: sqlite) }
        return MemoryAccountStore()
    }

    /// Request counts per key and rate window add up across replicas; a new window starts from nothing.
    @Test(arguments: StoreKind.kinds([.memory, .sqlite, .postgres])) func requestCountsAddUpAcrossReplicas(
        _ kind: StoreKind
    ) async throws {
        let database = try await kind.database()
        defer { database.cleanUp() }
        let other = try await database.another()
        defer { if kind != .memory { other.cleanUp() } }
        let first = Self.accounts(on: database)
        let second = kind == .memory ? first : Self.accounts(on: other)
        let key = try await first.createKey(name: "soc", plan: .starter, monthlyCredits: nil).key
        let minute: Int64 = 1_796_126_400
        #expect(try await first.countRequests([key.id: 3], window: minute) == [key.id: 3])
        #expect(try await second.countRequests([key.id: 4], window: minute) == [key.id: 7])
        #expect(try await first.countRequests([key.id: 0], window: minute) == [key.id: 7])
        #expect(try await second.countRequests([key.id: 1], window: minute + 60) == [key.id: 1])
    }

    /// Three replicas (three pools on one database) and 60 requests racing for a key's last 10 credits: exactly
    /// 10 are held, the other 50 told how many are left, and the usage never goes past the plan.
    @Test(arguments: StoreKind.kinds([.sqlite, .postgres])) func racingReplicasNeverOverspend(_ kind: StoreKind)
        async throws
    {
        let database = try await kind.database()
        defer { database.cleanUp() }
        var replicas = [Self.accounts(on: database)]
        var others: [StoreKind.Database] = []
        for _ in 0..<2 {
            let another = try await database.another()
            others.append(another)
            replicas.append(Self.accounts(on: another))
        }
        defer { for other in others { other.cleanUp() } }
        let key = try await replicas[0].createKey(name: "mssp", plan: .free, monthlyCredits: 10).key
        let now = Date()
        let outcomes = try await withThrowingTaskGroup(of: ReservationOutcome.self) { group in
            for index in 0..<60 {
                let replica = replicas[index % 3]
                group.addTask { try await replica.reserveCredits(keyID: key.id, amount: 1, at: now) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let held = outcomes.compactMap { outcome -> CreditReservation? in
            if case .reserved(let reservation, _) = outcome { return reservation }
            return nil
        }
        #expect(held.count == 10)
        #expect(outcomes.filter { $0 == .insufficient(required: 1, remaining: 0) }.count == 50)
        #expect(try await replicas[2].usage(keyID: key.id, at: now).creditsUsed == 10)
        // Settled through other replicas than reserved them, half charged: the rest comes back.
        for (index, reservation) in held.enumerated() {
            _ = try await replicas[(index + 1) % 3].settle(reservation, charged: index % 2, requestID: "r\(index)")
        }
        #expect(try await replicas[0].usage(keyID: key.id, at: now).creditsLeft == 5)
    }

    @Test func keysAreStoredOnlyAsHashes() async throws {
        let database = try VerdictDatabase(writer: DatabaseQueue())
        let accounts = SQLiteAccountStore(database: database)
        let created = try await accounts.createKey(name: "soc1", plan: .professional, monthlyCredits: nil)
        #expect(created.secret.hasPrefix("vk_") && created.secret.count == 43)
        #expect(created.key.monthlyCredits == 2500)
        let stored = try await database.writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM api_key").map { row in
                row.columnNames.map { name in "\(row[name] as DatabaseValue)" }.joined(separator: "|")
            }
        }
        #expect(stored.count == 1)
        #expect(!stored[0].contains(created.secret))
        #expect(!stored[0].contains(String(created.secret.dropFirst(11))))
        #expect(try await accounts.authenticate(secret: created.secret)?.name == "soc1")
        #expect(
            try await accounts.authenticate(
                secret: String(created.secret.dropLast()) + (created.secret.hasSuffix("x") ? "y" : "x")
            ) == nil
        )

        let other = try await accounts.createKey(name: "soc2", plan: .free, monthlyCredits: 7)
        #expect(other.secret != created.secret)
        #expect(other.key.monthlyCredits == 7)
    }

    @Test(arguments: kinds) func namesMustBeUsableAndUniqueAmongActiveKeys(_ kind: StoreKind) async throws {
        let (accounts, cleanUp) = try await Self.make(kind)
        defer { cleanUp() }
        for bad in ["", "  ", "has space", "semi;colon", String(repeating: "a", count: 65)] {
            await #expect(throws: StoreError.self, "\(bad)") {
                _ = try await accounts.createKey(name: bad, plan: .free, monthlyCredits: nil)
            }
        }
        _ = try await accounts.createKey(name: "mssp-client_1@acme.example", plan: .free, monthlyCredits: nil)
        await #expect(throws: StoreError.self) {
            _ = try await accounts.createKey(name: "mssp-client_1@acme.example", plan: .free, monthlyCredits: nil)
        }
        #expect(try await accounts.revokeKey(named: "mssp-client_1@acme.example"))
        #expect(try await !accounts.revokeKey(named: "mssp-client_1@acme.example"))
        // Once revoked, the name can be given to a new key; the old one stays listed.
        _ = try await accounts.createKey(name: "mssp-client_1@acme.example", plan: .starter, monthlyCredits: nil)
        let keys = try await accounts.keys()
        #expect(keys.map(\.isRevoked) == [true, false])
    }

    @Test(arguments: kinds) func aRevokedKeyReservesNothing(_ kind: StoreKind) async throws {
        let (accounts, cleanUp) = try await Self.make(kind)
        defer { cleanUp() }
        let key = try await accounts.createKey(name: "k", plan: .starter, monthlyCredits: nil).key
        #expect(try await accounts.revokeKey(named: "k"))
        #expect(try await accounts.reserveCredits(keyID: key.id, amount: 3, at: Date()) == .keyRevoked)
        #expect(try await accounts.usage(keyID: key.id, at: Date()).creditsUsed == 0)
    }

    @Test(arguments: kinds) func reservationsNeverOverspendAndSettleWithRefunds(_ kind: StoreKind) async throws {
        let (accounts, cleanUp) = try await Self.make(kind)
        defer { cleanUp() }
        let key = try await accounts.createKey(name: "k", plan: .free, monthlyCredits: 10).key
        let now = Date()
        guard case .reserved(let first, let left) = try await accounts.reserveCredits(keyID: key.id, amount: 6, at: now)
        else {
            Issue.record("first reservation refused")
            return
        }
        #expect(left == 4)
        #expect(
            try await accounts.reserveCredits(keyID: key.id, amount: 6, at: now)
                == .insufficient(required: 6, remaining: 4)
        )
        #expect(try await accounts.settle(first, charged: 3, requestID: "r1") == 7)
        #expect(try await accounts.usage(keyID: key.id, at: now).creditsUsed == 3)
        // A charge above the reservation is capped at it.
        guard case .reserved(let second, _) = try await accounts.reserveCredits(keyID: key.id, amount: 3, at: now)
        else {
            Issue.record("second reservation refused")
            return
        }
        #expect(try await accounts.settle(second, charged: 99, requestID: "r2") == 4)

        let unlimited = try await accounts.createKey(name: "u", plan: .enterprise, monthlyCredits: nil).key
        guard
            case .reserved(let held, let none) = try await accounts.reserveCredits(
                keyID: unlimited.id,
                amount: 300,
                at: now
            )
        else {
            Issue.record("unlimited refused")
            return
        }
        #expect(none == nil)
        #expect(try await accounts.settle(held, charged: 300, requestID: "r3") == nil)
        #expect(try await accounts.usage(keyID: unlimited.id, at: now).creditsUsed == 300)
    }

    @Test(arguments: kinds) func eachCalendarMonthStartsAfresh(_ kind: StoreKind) async throws {
        let (accounts, cleanUp) = try await Self.make(kind)
        defer { cleanUp() }
        let key = try await accounts.createKey(name: "k", plan: .free, monthlyCredits: 3).key
        let november = ISO8601DateFormatter().date(from: "2026-11-30T23:59:59Z")!
        let december = ISO8601DateFormatter().date(from: "2026-12-01T00:00:00Z")!
        guard case .reserved(let held, _) = try await accounts.reserveCredits(keyID: key.id, amount: 3, at: november)
        else {
            Issue.record("refused")
            return
        }
        _ = try await accounts.settle(held, charged: 3, requestID: "r")
        #expect(
            try await accounts.reserveCredits(keyID: key.id, amount: 3, at: november)
                == .insufficient(required: 3, remaining: 0)
        )
        guard case .reserved(_, let left) = try await accounts.reserveCredits(keyID: key.id, amount: 3, at: december)
        else {
            Issue.record("December refused")
            return
        }
        #expect(left == 0)
        #expect(try await accounts.usage(keyID: key.id, at: november).month == "2026-11")
        #expect(try await accounts.usage(keyID: key.id, at: december).month == "2026-12")
    }

    @Test(arguments: kinds) func theSweepGivesBackWhatACrashedRequestHeld(_ kind: StoreKind) async throws {
        let (accounts, cleanUp) = try await Self.make(kind)
        defer { cleanUp() }
        let key = try await accounts.createKey(name: "k", plan: .free, monthlyCredits: 9).key
        let now = ISO8601DateFormatter().date(from: "2026-11-15T12:00:00Z")!
        let then = now.addingTimeInterval(-3600)
        guard case .reserved(let orphan, _) = try await accounts.reserveCredits(keyID: key.id, amount: 6, at: then)
        else {
            Issue.record("refused")
            return
        }
        guard case .reserved(let fresh, _) = try await accounts.reserveCredits(keyID: key.id, amount: 3, at: now) else {
            Issue.record("refused")
            return
        }
        #expect(try await accounts.releaseStaleReservations(olderThan: 600, at: now) == 1)
        #expect(try await accounts.usage(keyID: key.id, at: now).creditsUsed == 3, "only the live reservation is held")
        // A request that settles after the sweep is charged what it spent, once.
        #expect(try await accounts.settle(orphan, charged: 3, requestID: "late") == 3)
        #expect(try await accounts.settle(fresh, charged: 0, requestID: "f") == 6)
        #expect(try await accounts.releaseStaleReservations(olderThan: 600, at: now) == 0)
    }

    /// A settlement whose answer was lost is tried again: the second try changes nothing, before or after the
    /// sweep, and two tries at once (two pools) charge once.
    @Test(arguments: kinds) func settlingAgainChangesNothing(_ kind: StoreKind) async throws {
        let database = try await kind.database()
        defer { database.cleanUp() }
        let accounts = Self.accounts(on: database)
        let key = try await accounts.createKey(name: "k", plan: .free, monthlyCredits: 30).key
        let now = ISO8601DateFormatter().date(from: "2026-11-15T12:00:00Z")!
        func reserve(_ amount: Int, at time: Date) async throws -> CreditReservation {
            guard
                case .reserved(let held, _) = try await accounts.reserveCredits(keyID: key.id, amount: amount, at: time)
            else { throw StoreError("refused") }
            return held
        }
        let first = try await reserve(6, at: now)
        #expect(try await accounts.settle(first, charged: 3, requestID: "r1") == 27)
        #expect(try await accounts.settle(first, charged: 3, requestID: "r1") == 27)
        // Swept, then settled twice: charged once.
        let orphan = try await reserve(6, at: now.addingTimeInterval(-3600))
        #expect(try await accounts.releaseStaleReservations(olderThan: 600, at: now) == 1)
        #expect(try await accounts.settle(orphan, charged: 6, requestID: "r2") == 21)
        #expect(try await accounts.settle(orphan, charged: 6, requestID: "r2") == 21)
        // Nothing charged is settled again as nothing.
        let free = try await reserve(3, at: now)
        #expect(try await accounts.settle(free, charged: 0, requestID: "r3") == 21)
        #expect(try await accounts.settle(free, charged: 0, requestID: "r3") == 21)
        #expect(try await accounts.usage(keyID: key.id, at: now).creditsUsed == 9)
        // Two tries at the same moment, from two pools on one database (memory has no second view).
        guard kind != .memory else { return }
        let second = try await database.another()
        defer { second.cleanUp() }
        let other = Self.accounts(on: second)
        let racing = try await reserve(9, at: now)
        let lefts = try await withThrowingTaskGroup(of: Int?.self) { group in
            for store in [accounts, other] {
                group.addTask { try await store.settle(racing, charged: 9, requestID: "r4") }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(try await accounts.usage(keyID: key.id, at: now).creditsUsed == 18, "\(lefts)")
    }

    @Test(arguments: kinds) func usageCountersAddUpPerKeyAndMonth(_ kind: StoreKind) async throws {
        let (accounts, cleanUp) = try await Self.make(kind)
        defer { cleanUp() }
        let key = try await accounts.createKey(name: "k", plan: .starter, monthlyCredits: nil).key
        let month = usageMonth(of: Date())
        try await accounts.addUsage([
            UsageKey(keyID: key.id, month: month): UsageCounters(requests: 2, lookups: 5, cacheHits: 3)
        ])
        try await accounts.addUsage([
            UsageKey(keyID: key.id, month: month): UsageCounters(
                requests: 1,
                lookups: 1,
                upstreamLookups: 1,
                suppressed: 1
            )
        ])
        let usage = try await accounts.usage(keyID: key.id, at: Date())
        #expect(
            usage.counters == UsageCounters(requests: 3, lookups: 6, cacheHits: 3, upstreamLookups: 1, suppressed: 1)
        )
        #expect(usage.creditsLeft == 500)
    }

    @Test func monthArithmeticMatchesTheCalendar() {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        var generator = SystemRandomNumberGenerator()
        // Month edges and random moments from 1970 to 2100, leap days included.
        var moments = [0.0, 951_782_400, 951_868_799, 4_107_542_399, 1_798_761_599, 1_798_761_600]
        for _ in 0..<2000 { moments.append(Double.random(in: 0...4_102_444_800, using: &generator)) }
        for seconds in moments {
            let date = Date(timeIntervalSince1970: seconds)
            let parts = calendar.dateComponents([.year, .month], from: date)
            #expect(usageMonth(of: date) == String(format: "%04d-%02d", parts.year!, parts.month!), "\(seconds)")
        }
    }

    @Test func hashComparisonLooksAtEveryByte() {
        let secret = APIKeySecret.generate()
        let hash = APIKeySecret.hash(secret)
        #expect(APIKeySecret.constantTimeEqual(hash, APIKeySecret.hash(secret)))
        var last = hash
        last[31] ^= 1
        var first = hash
        first[0] ^= 0x80
        #expect(!APIKeySecret.constantTimeEqual(hash, last))
        #expect(!APIKeySecret.constantTimeEqual(hash, first))
        #expect(!APIKeySecret.constantTimeEqual(hash, Array(hash.dropLast())))
        #expect(APIKeySecret.prefix(of: secret) == String(secret.dropFirst(3).prefix(8)))
        #expect(APIKeySecret.prefix(of: "vk_short") == nil)
    }
}
