import Foundation
import Testing
import VerdictPostgres
import VerdictStore
import VerdictStoreFactory
import VerdictTestSupport

/// The database URL: its parts, its TLS mode, its password file, and a password that never shows.
struct PostgresSettingsTests {
    @Test func theURLsPartsAndItsDefaults() throws {
        let full = try PostgresSettings(
            url: "postgres://soc%40acme:s3cr%3At@db.internal:6432/verdict_prod?sslmode=verify-full"
        )
        #expect(full.user == "soc@acme" && full.password == "s3cr:t" && full.host == "db.internal")
        #expect(full.port == 6432 && full.database == "verdict_prod" && full.tlsMode == .verifyFull)
        #expect(full.location == "postgres://soc@acme@db.internal:6432/verdict_prod")
        let short = try PostgresSettings(url: "postgresql://verdict@localhost")
        #expect(short.port == 5432 && short.database == "verdict" && short.tlsMode == .prefer && short.password == nil)
        #expect(
            try DatabaseLocation("postgres://verdict@db/verdict", dataDirectory: "/d")
                == .postgres(try PostgresSettings(url: "postgres://verdict@db/verdict"))
        )
        #expect(try DatabaseLocation(nil, dataDirectory: "/d") == .sqliteDirectory("/d"))
        #expect(
            try DatabaseLocation("sqlite:/srv/v/verdict.sqlite", dataDirectory: "/d")
                == .sqliteFile("/srv/v/verdict.sqlite")
        )
    }

    @Test func badURLsSayWhatIsWrongWithoutThePassword() {
        for (url, expected) in [
            ("postgres://verdict:hunter2@db/verdict?sslmode=sometimes", "sslmode=sometimes is not one of"),
            ("postgres://:hunter2@db/verdict", "names no user"),
            ("postgres://verdict:hunter2@/verdict", "names no host"),
            ("postgres://verdict:hunter2@db/verdict?pool=9", "pool= is not understood"),
            ("mysql://verdict:hunter2@db/verdict", "neither sqlite:PATH nor postgres://"),
        ] {
            let error = #expect(throws: StoreError.self) { try DatabaseLocation(url, dataDirectory: "/d") }
            #expect(error?.description.contains(expected) == true, "\(url): \(String(describing: error))")
            #expect(error?.description.contains("hunter2") == false)
        }
    }

    @Test func aPasswordFileHoldsThePasswordOrPgpassLines() throws {
        let folder = SQLiteLookupCacheTests.temporaryDirectory()
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try "just-the-password\n".write(toFile: folder + "/bare", atomically: true, encoding: .utf8)
        try "# PostgreSQL's format\nother:5432:*:*:wrong\ndb:5432:verdict:verdict:from-pgpass\n".write(
            toFile: folder + "/pgpass",
            atomically: true,
            encoding: .utf8
        )
        #expect(
            try PostgresSettings(url: "postgres://verdict@db/verdict?passfile=\(folder)/bare").password
                == "just-the-password"
        )
        #expect(
            try PostgresSettings(url: "postgres://verdict@db/verdict?passfile=\(folder)/pgpass").password
                == "from-pgpass"
        )
        let missing = #expect(throws: StoreError.self) {
            try PostgresSettings(url: "postgres://verdict@db/verdict?passfile=\(folder)/none")
        }
        #expect(missing?.description.contains("cannot read the database password file") == true)
        let noLine = #expect(throws: StoreError.self) {
            try PostgresSettings(url: "postgres://app@db/verdict?passfile=\(folder)/pgpass")
        }
        #expect(noLine?.description.contains("has no line for app@db:5432/verdict") == true)
    }

    /// The test server speaks no TLS: `sslmode=require` must refuse it rather than talk in clear, and say why at
    /// once (the pool would try again until the deadline).
    @Test(.enabled(if: PostgresTestServer.shouldRun, "needs the PostgreSQL server .ci/run starts"))
    func sslmodeRequireRefusesAServerWithoutTLS() async throws {
        let url = try PostgresTestServer.freshDatabase()
        defer { PostgresTestServer.drop(url) }
        let plain = try await PostgresDatabase.open(try PostgresSettings(url: url), callTimeout: .seconds(10))
        #expect(await plain.isReachable())
        await plain.close()
        let required = url.replacingOccurrences(of: "sslmode=disable", with: "sslmode=require")
        let clock = ContinuousClock()
        let started = clock.now
        let error = await #expect(throws: StoreError.self) {
            _ = try await PostgresDatabase.open(try PostgresSettings(url: required), migrationTimeout: .seconds(60))
        }
        #expect(clock.now - started < .seconds(30), "gave up only at the deadline")
        #expect(error?.description.contains("cannot connect to the PostgreSQL database") == true)
        #expect(error?.description.contains("does not offer TLS") == true, "\(String(describing: error))")
        #expect(error?.description.contains(URLComponents(string: url)?.password ?? "-") == false)
    }

    /// A wrong password is named as the server names it, at once, and neither password is in the error.
    @Test(.enabled(if: PostgresTestServer.shouldRun, "needs the PostgreSQL server .ci/run starts"))
    func aWrongPasswordIsNamedAtOnce() async throws {
        let url = try PostgresTestServer.freshDatabase()
        defer { PostgresTestServer.drop(url) }
        var components = try #require(URLComponents(string: url))
        let right = try #require(components.password)
        components.password = "not-the-password-4711"
        let clock = ContinuousClock()
        let started = clock.now
        let error = await #expect(throws: StoreError.self) {
            _ = try await PostgresDatabase.open(
                try PostgresSettings(url: try #require(components.string)),
                migrationTimeout: .seconds(60)
            )
        }
        #expect(clock.now - started < .seconds(30), "gave up only at the deadline")
        let text = String(describing: error)
        #expect(text.contains("password authentication failed") && text.contains("SQLSTATE 28P01"), "\(text)")
        #expect(!text.contains(right) && !text.contains("not-the-password-4711"))
    }

    /// A server that is not there: the call ends at its deadline and says what the pool last met.
    @Test func nothingListeningIsNamedAtTheDeadline() async throws {
        let url = "postgres://verdict:hunter2@127.0.0.1:1/verdict?sslmode=disable"
        let error = await #expect(throws: StoreError.self) {
            _ = try await PostgresDatabase.open(try PostgresSettings(url: url), callTimeout: .seconds(2))
        }
        let text = String(describing: error)
        #expect(text.contains("no answer within 2000 ms") && text.contains("connection refused"), "\(text)")
        #expect(!text.contains("hunter2"))
    }
}
