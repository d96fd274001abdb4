import Foundation
import Testing
import VerdictPostgres
import VerdictSQLite
import VerdictStore

/// Each key's recent lookups, on every database: the same tests for each.
struct LookupHistoryStoreTests {
    static let kinds = StoreKind.kinds([.sqlite, .postgres])

    static func store(_ database: StoreKind.Database) -> any LookupHistoryStore {
        if let postgres = database.postgres { return PostgresLookupHistoryStore(database: postgres) }
        return SQLiteLookupHistoryStore(database: database.sqlite!)
    }

    static func entry(key: Int64, at: Double, _ values: [String], verdict: String = "malicious") -> LookupHistoryEntry {
        LookupHistoryEntry(
            keyID: key,
            at: at,
            indicators: values,
            verdict: verdict,
            creditsCharged: 3 * values.count,
            results: #"[{"indicator":{"type":"ipv4","value":"\#(values[0])"},"verdict":"\#(verdict)"}]"#
        )
    }

    @Test(arguments: kinds) func aKeySeesItsOwnNewestLookupsWithinTheBounds(_ kind: StoreKind) async throws {
        let database = try await kind.database()
        defer { database.cleanUp() }
        let store = Self.store(database)
        let now = 1_764_600_000.0
        var ids: [Int64] = []
        for step in 0..<5 {
            let values = ["185.220.101.\(step)", "evil-\(step).example.net"]
            ids.append(
                try await store.record(Self.entry(key: 1, at: now + Double(step), values), keep: 3, notBefore: 0)
            )
        }
        _ = try await store.record(Self.entry(key: 2, at: now + 9, ["45.155.205.99"]), keep: 3, notBefore: 0)
        #expect(Set(ids).count == 5, "each lookup has its own id: \(ids)")

        let seen = try await store.recent(keyID: 1, limit: 10, notBefore: 0)
        #expect(seen.map(\.at) == [now + 4, now + 3, now + 2], "newest first, the 3 kept")
        #expect(seen.first?.indicators == ["185.220.101.4", "evil-4.example.net"], "values in order, as given")
        #expect(seen.first?.creditsCharged == 6 && seen.first?.verdict == "malicious")
        #expect(seen.first?.results.contains(#""value":"185.220.101.4""#) == true, "the results as they were written")
        #expect(try await store.recent(keyID: 1, limit: 2, notBefore: 0).count == 2)
        #expect(try await store.recent(keyID: 2, limit: 10, notBefore: 0).map(\.indicators) == [["45.155.205.99"]])
        #expect(try await store.recent(keyID: 3, limit: 10, notBefore: 0).isEmpty, "another key sees nothing")

        // Past the age bound: not shown, and forgotten at the key's next lookup.
        #expect(try await store.recent(keyID: 1, limit: 10, notBefore: now + 3).map(\.at) == [now + 4, now + 3])
        _ = try await store.record(Self.entry(key: 1, at: now + 100, ["91.92.240.10"]), keep: 3, notBefore: now + 50)
        #expect(try await store.recent(keyID: 1, limit: 10, notBefore: 0).map(\.at) == [now + 100])
        #expect(try await store.recent(keyID: 2, limit: 10, notBefore: 0).count == 1, "other keys keep theirs")
    }
}
