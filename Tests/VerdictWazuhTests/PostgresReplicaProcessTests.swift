import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing
import VerdictCore
import VerdictTestSupport

/// Real `verdict serve` replicas on one real PostgreSQL database, as an MSSP runs them behind a load balancer:
/// one key's credits, one source budget, one cache, one revocation.
struct PostgresReplicaProcessTests {
    static let abuseIPDBAnswer = #"""
        {"data":{"ipAddress":"45.155.205.1","isPublic":true,"ipVersion":4,"isWhitelisted":false,"abuseConfidenceScore":100,
         "countryCode":"NL","usageType":"Data Center/Web Hosting/Transit","isp":"Example Hosting","domain":"example.net",
         "isTor":false,"totalReports":47,"numDistinctUsers":22,"lastReportedAt":"2026-11-29T18:33:12+00:00"}}
        """#

    /// One lookup of `value` with `key` through the replica on `port`: the status and the answer.
    static func lookUp(_ http: HTTPClient, port: Int, key: String, _ value: String) async throws
        -> (status: UInt, body: JSONValue)
    {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/enrichment/lookup")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(key)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: #"{"indicators": ["\#(value)"]}"#))
        let response = try await http.execute(request, timeout: .seconds(30))
        let bytes = Array(buffer: try await response.body.collect(upTo: 1 << 20))
        return (response.status.code, (try? JSONValue(parsing: bytes)) ?? .null)
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
struct PostgresClusterNodeTests {
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
