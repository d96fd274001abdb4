import Foundation
import Testing
import VerdictStore
import VerdictStoreFactory

/// `verdict bench budget` measures real store work: every call it times lands in the database it names.
@Suite struct StoreBenchmarkTests {
    @Test(arguments: StoreKind.kinds([.sqlite, .postgres]))
    func everyTimedCallReachesTheDatabase(kind: StoreKind) async throws {
        let database = try await kind.database()
        defer { database.cleanUp() }
        let location = try DatabaseLocation(
            kind == .postgres ? database.location : "sqlite:" + database.location,
            dataDirectory: ""
        )
        let report = try await StoreBenchmark(takes: 40, connections: 2, location: location).run()
        #expect(report.takes == 40 && report.connections == 2)
        for (p50, p99) in [
            report.takeMicroseconds, report.roundMicroseconds, report.creditMicroseconds,
            report.upstreamLookupMicroseconds,
        ] {
            #expect(p50 > 0 && p50 <= p99)
        }
        // Its key paid 3 credits for each credit round and 3 for each lookup: 40 of each.
        let accounts = AccountStoreTests.accounts(on: database)
        let keys = try await accounts.keys()
        #expect(keys.count == 1, "\(keys.map(\.name))")
        let usage = try await accounts.usage(keyID: try #require(keys.first).id, at: Date())
        #expect(usage.creditsUsed == 40 * 3 * 2)
    }
}
