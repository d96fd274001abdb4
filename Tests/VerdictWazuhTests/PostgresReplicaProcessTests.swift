import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization
import Testing
import VerdictCore
import VerdictTestSupport

/// Real `verdict serve` replicas on one real PostgreSQL database, as an MSSP runs them behind a load balancer:
/// one key's credits, one source budget, one cache, one revocation. One test at a time: each runs several servers,
/// and beside the rest of the suite they would crowd a 2-core machine past other tests' bounds.
@Suite(.serialized) struct PostgresReplicaProcessTests {
    static let abuseIPDBAnswer = #"""
        {"data":{"ipAddress":"45.155.205.1","isPublic":true,"ipVersion":4,"isWhitelisted":false,"abuseConfidenceScore":100,
         "countryCode":"NL","usageType":"Data Center/Web Hosting/Transit","isp":"Example Hosting","domain":"example.net",
         "isTor":false,"totalReports":47,"numDistinctUsers":22,"lastReportedAt":"2026-11-29T18:33:12+00:00"}}
        """#

    /// One lookup of `value` with `key` through the replica on `port`: the status, `Retry-After` and the answer.
    static func lookUp(_ http: HTTPClient, port: Int, key: String, _ value: String) async throws
        -> (status: UInt, retryAfter: String?, body: JSONValue)
    {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/enrichment/lookup")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(key)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: #"{"indicators": ["\#(value)"]}"#))
        let response = try await http.execute(request, timeout: .seconds(30))
        let bytes = Array(buffer: try await response.body.collect(upTo: 1 << 20))
        return (
            response.status.code, response.headers.first(name: "Retry-After"), (try? JSONValue(parsing: bytes)) ?? .null
        )
    }

    /// `verdict ARGUMENTS` as a user runs it; its output.
    static func verdict(_ arguments: [String], environment: [String: String]) async throws -> String {
        let folder = environment["VERDICT_DATA_DIR"] ?? "/tmp"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let run = try await WazuhProcess.run(
            WazuhProcess.buildProducts.appendingPathComponent("verdict"),
            argv0: "verdict",
            arguments: arguments,
            home: folder,
            environment: environment
        )
        #expect(run.status == 0, "\(run.output)")
        return run.output
    }

    /// `verdict keys …` on the database; the last line of its output.
    static func keys(_ arguments: [String], environment: [String: String]) async throws -> String {
        try await verdict(["keys"] + arguments, environment: environment).split(separator: "\n").last.map(String.init)
            ?? ""
    }

    @Test(.enabled(if: PostgresTestServer.shouldRun, "needs the PostgreSQL server .ci/run starts"))
    func threeReplicasShareCreditsTheBudgetTheCacheAndRevocation() async throws {
        let url = try PostgresTestServer.freshDatabase()
        defer { PostgresTestServer.drop(url) }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("verdict-replicas-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // All of it in one minute, so the 4-a-minute window is one window.
        try await SharedBudgetProcessTests.waitForEarlyInAMinute(latest: 15)
        let started = SharedBudgetProcessTests.minute
        let malicious: MockProviderServer.Handler = { _ in .json(200, Self.abuseIPDBAnswer) }
        try await MockProviderServer.with(malicious) { abuseIPDB in
            try await MockProviderServer.with(SharedBudgetProcessTests.virusTotalAnswer) { virusTotal in
                let environment = [
                    "VERDICT_DATABASE_URL": url, "VERDICT_CONFIG": "", "VERDICT_INTERNETDB_ENABLED": "false",
                    "VERDICT_ABUSEIPDB_API_KEY": "abuse-test-key", "VERDICT_ABUSEIPDB_URL": abuseIPDB.baseURL,
                    "VERDICT_VIRUSTOTAL_API_KEY": "vt-test-key", "VERDICT_VIRUSTOTAL_URL": virusTotal.baseURL,
                    "VERDICT_VIRUSTOTAL_RATE": "4/minute",
                ]
                var replicas: [VerdictServeProcess] = []
                defer { for replica in replicas { replica.stop() } }
                for index in 0..<3 {
                    var own = environment
                    own["VERDICT_DATA_DIR"] = folder + "/replica-\(index)"
                    replicas.append(try VerdictServeProcess(["serve", "--port", "0"], environment: own))
                }
                var ports: [Int] = []
                for replica in replicas { ports.append(try await replica.port()) }
                let cli = environment.merging(["VERDICT_DATA_DIR": folder + "/cli"]) { $1 }
                let mssp = try await Self.keys(
                    ["create", "--name", "mssp", "--plan", "free", "--credits", "30"],
                    environment: cli
                )
                let soc = try await Self.keys(["create", "--name", "soc", "--plan", "enterprise"], environment: cli)
                let http = HTTPClient(eventLoopGroupProvider: .singleton)

                // 60 new values at once over the three replicas, credits for 10 (3 each): exactly 10 charged.
                let statuses = try await withThrowingTaskGroup(of: UInt.self) { group in
                    for index in 0..<60 {
                        let port = ports[index % 3]
                        group.addTask {
                            try await Self.lookUp(http, port: port, key: mssp, "45.155.205.\(index + 1)").status
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(statuses.filter { $0 == 200 }.count == 10, "\(statuses)")
                #expect(statuses.filter { $0 == 402 }.count == 50)
                let usage = try await Self.verdict(["usage", "--name", "mssp"], environment: cli)
                let row = usage.split(separator: "\n").last?.split(separator: " ").map(String.init) ?? []
                #expect(row.count > 3 && row[2] == "30" && row[3] == "0", "used 30, none left: \(usage)")
                #expect(!usage.contains(URLComponents(string: url)?.password ?? "-"), "the password is never shown")

                // 20 more values with an unlimited key: VirusTotal, at 4 a minute, was asked 4 times in all.
                for index in 0..<20 {
                    let answer = try await Self.lookUp(http, port: ports[index % 3], key: soc, "45.155.206.\(index)")
                    #expect(answer.status == 200)
                }
                if SharedBudgetProcessTests.minute == started {
                    #expect(virusTotal.requests.count == 4, "\(virusTotal.requests.map(\.uri))")
                }

                // Asked through replica 1, answered from the shared cache by replica 2: no call, no credits.
                let asked = abuseIPDB.requests.count
                let again = try await Self.lookUp(http, port: ports[1], key: soc, "45.155.206.0")
                guard case .array(let results)? = again.body["results"] else {
                    Issue.record("no results: \(again.body)")
                    return
                }
                #expect(results.first?["cached"] == .bool(true), "\(again.body)")
                #expect(again.body["credits"]?["charged"]?.scalarText == "0")
                #expect(abuseIPDB.requests.count == asked)

                // Revoked through the command line: every replica refuses the key within about a second.
                #expect(try await Self.lookUp(http, port: ports[2], key: soc, "45.155.206.1").status == 200)
                _ = try await Self.keys(["revoke", "soc"], environment: cli)
                let revokedAt = ContinuousClock.now
                for port in ports {
                    while try await Self.lookUp(http, port: port, key: soc, "45.155.206.1").status != 401 {
                        #expect(ContinuousClock.now - revokedAt < .seconds(5), "replica \(port) still takes the key")
                        if ContinuousClock.now - revokedAt > .seconds(5) { break }
                        try await Task.sleep(for: .milliseconds(50))
                    }
                }
                #expect(ContinuousClock.now - revokedAt < .seconds(3))
                try await http.shutdown()
            }
        }
    }
}

/// Two Wazuh manager nodes (two Wazuh homes) in embedded mode, each with `database:` in its verdict.yaml
/// pointing at one PostgreSQL database: one VirusTotal window and one cache between them, no server.
extension PostgresReplicaProcessTests {
    typealias WazuhHome = IntegrationProcessTests.WazuhHome

    @Test(.enabled(if: PostgresTestServer.shouldRun, "needs the PostgreSQL server .ci/run starts"))
    func twoNodesShareTheWindowAndTheCache() async throws {
        let url = try PostgresTestServer.freshDatabase()
        defer { PostgresTestServer.drop(url) }
        try await SharedBudgetProcessTests.waitForEarlyInAMinute(latest: 20)
        let started = SharedBudgetProcessTests.minute
        try await MockProviderServer.with(SharedBudgetProcessTests.virusTotalAnswer) { virusTotal in
            let nodes = [try WazuhHome(), try WazuhHome()]
            for node in nodes {
                try "database: \"\(url)\"\n".write(
                    toFile: node.path + "/etc/verdict.yaml",
                    atomically: true,
                    encoding: .utf8
                )
            }
            let environment = SharedBudgetProcessTests.virusTotal(virusTotal)
            // Three alerts on each node, six addresses: the window of 4 a minute is spent across both.
            for index in 0..<6 {
                let run = try await SharedBudgetProcessTests.run(
                    nodes[index % 2],
                    address: "45.155.207.\(index)",
                    id: index,
                    environment: environment
                )
                #expect(run.status == 0, "\(nodes[index % 2].log)")
            }
            guard SharedBudgetProcessTests.minute == started else { return }
            #expect(virusTotal.requests.count == 4, "\(virusTotal.requests.map(\.uri))")
            let refused = nodes.flatMap { SharedBudgetProcessTests.quotaLines($0.log) }
            #expect(refused.count == 2, "\(nodes.map(\.log))")
            // What node 0 asked VirusTotal about is in the shared cache for node 1: no call.
            let asked = virusTotal.requests.count
            let run = try await SharedBudgetProcessTests.run(
                nodes[1],
                address: "45.155.207.0",
                id: 10,
                environment: environment
            )
            #expect(run.status == 0)
            #expect(virusTotal.requests.count == asked, "answered from the cache node 0 filled")
            #expect(nodes.allSatisfy { !$0.log.contains(URLComponents(string: url)?.password ?? "-") })
        }
    }
}

extension PostgresReplicaProcessTests {
    /// A node whose database cannot be reached keeps the alert (one "deferred" event, exit 0) and enriches it
    /// once the database answers.
    @Test(.enabled(if: PostgresTestServer.shouldRun, "needs the PostgreSQL server .ci/run starts"))
    func aNodeWhoseDatabaseIsDownKeepsTheAlert() async throws {
        let url = try PostgresTestServer.freshDatabase()
        defer { PostgresTestServer.drop(url) }
        try await MockProviderServer.with(SharedBudgetProcessTests.virusTotalAnswer) { virusTotal in
            let home = try WazuhHome()
            let settings = home.path + "/etc/verdict.yaml"
            // Nothing listens on port 1.
            try "database: \"postgres://verdict:hunter2@127.0.0.1:1/verdict?sslmode=disable\"\n".write(
                toFile: settings,
                atomically: true,
                encoding: .utf8
            )
            let environment = SharedBudgetProcessTests.virusTotal(virusTotal)
            let down = try await SharedBudgetProcessTests.run(
                home,
                address: "45.155.208.1",
                id: 1,
                environment: environment
            )
            #expect(down.status == 0, "integratord logs no error: \(home.log)")
            let deferred = await home.receiver!.wait(for: 1)
            #expect(
                deferred.first?.contains(
                    "cannot connect to the PostgreSQL database postgres://verdict@127.0.0.1:1/verdict"
                )
                    == true,
                "\(deferred)"
            )
            #expect(!home.log.contains("hunter2") && !(deferred.first ?? "").contains("hunter2"))
            // The database is back (here: the right URL): the next alert's run enriches the kept one too.
            try "database: \"\(url)\"\n".write(toFile: settings, atomically: true, encoding: .utf8)
            let up = try await SharedBudgetProcessTests.run(
                home,
                address: "45.155.208.2",
                id: 2,
                environment: environment
            )
            #expect(up.status == 0, "\(home.log)")
            let all = await home.receiver!.wait(for: 3)
            #expect(all.count == 3, "\(all)")
            #expect(all.last?.contains("45.155.208.1") == true && all.last?.contains("deferred_s") == true)
        }
    }
}

/// PostgreSQL stopped for 8 s under load: the replica answers 503 `store_unavailable` with `Retry-After` (and
/// `/v1/ready` says not ready) instead of hanging or crashing, serves again by itself once the database is back,
/// and no credit is lost or counted twice.
extension PostgresReplicaProcessTests {
    struct Outcome: Sendable {
        var sentAt: Duration
        var status: UInt
        var retryAfter: String?
        var elapsed: Duration
        /// The credits the answer says it charged.
        var charged: Int
    }

    @Test(.enabled(if: OwnPostgresServer.isInstalled || PostgresTestServer.shouldRun, "needs PostgreSQL's server"))
    func anOutageIs503ThenFullServiceWithCreditsConsistent() async throws {
        let database = try OwnPostgresServer()
        defer { database.stop() }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("verdict-outage-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let malicious: MockProviderServer.Handler = { _ in .json(200, Self.abuseIPDBAnswer) }
        try await MockProviderServer.with(malicious) { abuseIPDB in
            let environment = [
                "VERDICT_DATABASE_URL": database.url, "VERDICT_CONFIG": "", "VERDICT_INTERNETDB_ENABLED": "false",
                "VERDICT_ABUSEIPDB_API_KEY": "abuse-test-key", "VERDICT_ABUSEIPDB_URL": abuseIPDB.baseURL,
                "VERDICT_ABUSEIPDB_RATE": "100000/day", "VERDICT_DATA_DIR": folder + "/replica",
                "VERDICT_SERVER_KEY_RATE_LIMIT": "off",
            ]
            let replica = try VerdictServeProcess(["serve", "--port", "0"], environment: environment)
            defer { replica.stop() }
            let port = try await replica.port()
            let cli = environment.merging(["VERDICT_DATA_DIR": folder + "/cli"]) { $1 }
            let key = try await Self.keys(
                ["create", "--name", "soc", "--plan", "free", "--credits", "100000"],
                environment: cli
            )
            let http = HTTPClient(eventLoopGroupProvider: .singleton)
            do {
                try await Self.playOutage(database, replica: replica, port: port, key: key, http: http)
            } catch {
                try? await http.shutdown()
                throw error
            }
            try await http.shutdown()
        }
    }

    static func playOutage(
        _ database: OwnPostgresServer,
        replica: VerdictServeProcess,
        port: Int,
        key: String,
        http: HTTPClient
    ) async throws {
        do {
            let clock = ContinuousClock()
            let start = clock.now
            let counter = Counter()
            let loadEnd = LoadEnd()
            // Two clients asking new values until told to stop; the database is away for 13 s: a request begun just
            // before it went may wait out two store deadlines (3 s each), and the next ones must still start and fail
            // inside it. Every phase is timed from when the one
            // before really ended: stopping and starting a server takes seconds on a busy machine.
            let load = Task {
                try await withThrowingTaskGroup(of: [Outcome].self) { group in
                    for _ in 0..<2 {
                        group.addTask {
                            var outcomes: [Outcome] = []
                            while !loadEnd.reached(clock.now) {
                                let sent = clock.now
                                let number = counter.next()
                                let value = "45.155.\(200 + number / 250).\(number % 250 + 1)"
                                let reply = try await Self.lookUp(http, port: port, key: key, value)
                                outcomes.append(
                                    Outcome(
                                        sentAt: sent - start,
                                        status: reply.status,
                                        retryAfter: reply.retryAfter,
                                        elapsed: clock.now - sent,
                                        charged: reply.body["credits"]?["charged"]?.scalarText.flatMap { Int($0) } ?? 0
                                    )
                                )
                                try await Task.sleep(for: .milliseconds(50))
                            }
                            return outcomes
                        }
                    }
                    return try await group.reduce(into: []) { $0 += $1 }
                }
            }
            try await Task.sleep(until: start + .seconds(2))
            try await database.pause()
            let pausedAt = clock.now - start
            try await Task.sleep(for: .seconds(1))
            var ready = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/ready")
            ready.method = .GET
            let readyDuringOutage = try await http.execute(ready, timeout: .seconds(10)).status.code
            try await Task.sleep(until: start + pausedAt + .seconds(13))
            let resumingAt = clock.now - start
            try await database.resume()
            let resumedAt = clock.now - start
            // The pool reconnects on the next call; what is asked 3 s after the server is back must all be served.
            loadEnd.set(start + resumedAt + .seconds(7))
            let outcomes = try await load.value
            #expect(replica.process.isRunning, "the replica did not crash: \(replica.text)")
            #expect(readyDuringOutage == 503)
            // Asked while the database was down (it was stopped and answers no more when pause() returns).
            let during = outcomes.filter { $0.sentAt > pausedAt && $0.sentAt + $0.elapsed < resumingAt }
            #expect(
                !during.isEmpty && during.allSatisfy { $0.status == 503 },
                "paused \(pausedAt), resumed \(resumingAt): \(outcomes.map { ($0.sentAt, $0.status, $0.elapsed) })"
            )
            // Told to come back, and soon: at most two store deadlines (3 s each) and the load of a busy 2-core
            // machine, far from the client's 30 s.
            let slowOrWithoutRetryAfter = during.filter { $0.retryAfter == nil || $0.elapsed >= .seconds(10) }
            #expect(
                slowOrWithoutRetryAfter.isEmpty,
                "\(slowOrWithoutRetryAfter.map { ($0.sentAt, $0.status, $0.retryAfter ?? "none", $0.elapsed) })"
            )
            let after = outcomes.filter { $0.sentAt > resumedAt + .seconds(3) }
            #expect(!after.isEmpty && after.allSatisfy { $0.status == 200 }, "\(after.map(\.status))")
            #expect(try await http.execute(ready, timeout: .seconds(10)).status.code == 200)
            // Settlements the outage cut off are tried again until written: soon nothing is held, and what was
            // used is what the ledger charged.
            var (used, ledger, held) = ("", "", "")
            let settling = ContinuousClock.now
            repeat {
                try await Task.sleep(for: .milliseconds(500))
                used = try PostgresTestServer.psql(database.url, "SELECT COALESCE(SUM(credits_used), 0) FROM key_usage")
                ledger = try PostgresTestServer.psql(
                    database.url,
                    "SELECT COALESCE(SUM(credits), 0) FROM credit_ledger"
                )
                held = try PostgresTestServer.psql(
                    database.url,
                    "SELECT COALESCE(SUM(amount), 0) FROM credit_reservation"
                )
            } while held != "0" && ContinuousClock.now - settling < .seconds(60)
            #expect(held == "0" && used == ledger, "used \(used), ledger \(ledger), held \(held)")
            // Never more than the answers said (an answer whose settlement the outage cut off says what it held;
            // the later settlement charges what it spent, at most that).
            let charged = outcomes.filter { $0.status == 200 }.map(\.charged).reduce(0, +)
            #expect((Int(ledger) ?? 0) <= charged && (Int(ledger) ?? 0) > 0, "ledger \(ledger), charged \(charged)")
        }
    }

    /// When the clients stop asking: not known until the outage is over.
    final class LoadEnd: Sendable {
        let instant = Mutex<ContinuousClock.Instant?>(nil)
        func set(_ end: ContinuousClock.Instant) { instant.withLock { $0 = end } }
        func reached(_ now: ContinuousClock.Instant) -> Bool { instant.withLock { $0.map { now >= $0 } ?? false } }
    }

    final class Counter: Sendable {
        let value = Mutex(0)
        func next() -> Int {
            value.withLock {
                $0 += 1
                return $0
            }
        }
    }
}
