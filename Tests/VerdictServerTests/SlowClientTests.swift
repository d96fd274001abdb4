import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VerdictEngine
import VerdictServer
import VerdictStore
import VerdictTestSupport

/// Clients that trickle a body hold a place only until the body deadline, and only as many places as the
/// in-flight caps allow, per key and in all. Bounded: five connections, a 15-second body deadline (the five connections must all be open within it,
/// on a busy machine too).
struct SlowClientTests {
    @Test func slowBodiesAreCutOffAndCappedPerKeyAndInAll() async throws {
        try await ServerHarness.with { harness, abuseIPDB in
            let first = try await harness.key("soc1", plan: .starter)
            let second = try await harness.key("soc2", plan: .starter)
            let app = harness.application {
                $0.bodyTimeout = .seconds(15)
                $0.maxInFlightPerKey = 2
                $0.maxInFlight = 3
                $0.keyRateLimit = nil
            }
            try await app.test(.live) { client in
                let port = try #require(client.port)
                /// A lookup whose head says 1,000 bytes and whose body stops after 20.
                func stall(_ key: String) async throws -> RawHTTPConnection {
                    try await RawHTTPConnection.stalledLookup(port: port, key: key)
                }
                let started = ContinuousClock.now
                let held = [try await stall(first), try await stall(first)]
                let overKey = try await stall(first)
                let third = try await stall(second)
                let overAll = try await stall(second)

                let perKey = try await RawHTTPConnection.offPool { try overKey.readAnswer() }
                #expect(perKey.status == 429 && perKey.body.contains("too_many_in_flight"), "\(perKey)")
                #expect(perKey.headers["retry-after"] == "1")
                let busy = try await RawHTTPConnection.offPool { try overAll.readAnswer() }
                #expect(busy.status == 503 && busy.body.contains("server_busy"), "\(busy)")
                #expect(busy.headers["retry-after"] == "1")
                for connection in held + [third] {
                    let answer = try await RawHTTPConnection.offPool { try connection.readAnswer() }
                    #expect(answer.status == 408 && answer.body.contains("body_timeout"), "\(answer)")
                    #expect(answer.headers["connection"] == "close")
                }
                // A trickling client once stayed past 90 s; the deadline is 5 s. Far under the first, on any load.
                #expect(ContinuousClock.now - started < .seconds(30))
                #expect(abuseIPDB.requests.isEmpty, "no partial body was looked up")

                // The places are free again.
                let fine = try await client.lookup(#"{"indicators": ["185.220.101.4"]}"#, key: first)
                #expect(fine.status == .ok)
            }
        }
    }
}
