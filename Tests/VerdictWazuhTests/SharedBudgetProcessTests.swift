import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization
import Testing
import VerdictCore
import VerdictSQLite
import VerdictStore
import VerdictTestSupport
import VerdictWazuh

#if canImport(Glibc)
import Glibc
#endif

/// One source budget per data directory, with real processes: `custom-verdict` runs as integratord starts them
/// (one per alert, some at once), `verdict serve` beside them, and a loopback VirusTotal.
struct SharedBudgetProcessTests {
    typealias WazuhHome = IntegrationProcessTests.WazuhHome

    /// VirusTotal's answer for an address it knows (docs/sources.md): clean, so the verdict is the local feed's.
    static func virusTotalAnswer(_ request: MockProviderServer.Request) -> MockProviderServer.Reply {
        let address = request.uri.split(separator: "/").last.map(String.init) ?? ""
        return .json(
            200,
            #"{"data":{"id":"\#(address)","type":"ip_address","attributes":{"last_analysis_date":1764000000,"last_analysis_stats":{"malicious":0,"suspicious":0,"harmless":62,"undetected":32,"timeout":0},"reputation":0,"tags":[]}}}"#
        )
    }

    /// An sshd alert from `address`.
    static func alert(from address: String, id: Int) -> String {
        #"{"timestamp":"2026-12-01T10:00:00.000+0000","rule":{"level":10,"description":"sshd: authentication failed","id":"5760","groups":["sshd","authentication_failed"]},"agent":{"id":"001","name":"web-01","ip":"10.0.2.15"},"manager":{"name":"wazuh-manager"},"id":"1764583200.\#(id)","full_log":"Failed password for root from \#(address) port 22 ssh2","data":{"srcip":"\#(address)"},"location":"/var/log/auth.log"}"#
    }

    static func virusTotal(_ mock: MockProviderServer, _ extra: [String: String] = [:]) -> [String: String] {
        [
            "VERDICT_VIRUSTOTAL_API_KEY": "vt-test-key", "VERDICT_VIRUSTOTAL_URL": mock.baseURL,
            "VERDICT_VIRUSTOTAL_RATE": "4/minute",
        ].merging(extra) { $1 }
    }

    /// Runs one alert from `address` through custom-verdict, writing every verdict back.
    static func run(_ home: WazuhHome, address: String, id: Int, environment: [String: String]) async throws
        -> WazuhProcess.Finished
    {
        let alert = try home.file("custom-verdict-\(id).alert", Self.alert(from: address, id: id) + "\n")
        let options = try home.file("custom-verdict-\(id).options", #"{"min_verdict": "all"}"# + "\n")
        return try await home.runIntegration(
            IntegrationProcessTests.argv(alert: alert, options: options),
            environment: environment
        )
    }

    /// custom-verdict as another user (`setpriv`), as integratord runs it as `wazuh`.
    static func runIntegration(_ home: WazuhHome, as user: passwd, alert: String) async throws
        -> WazuhProcess.Finished
    {
        try await WazuhProcess.run(
            URL(fileURLWithPath: "/usr/bin/setpriv"),
            argv0: "setpriv",
            arguments: [
                "--reuid=\(user.pw_uid)", "--regid=\(user.pw_gid)", "--clear-groups",
                WazuhProcess.buildProducts.appendingPathComponent("custom-verdict").path,
            ] + IntegrationProcessTests.argv(alert: alert),
            home: home.path,
            environment: home.environment
        )
    }

    /// The log lines of the alerts whose VirusTotal part was refused for its quota.
    static func quotaLines(_ log: String) -> [Substring] {
        log.split(separator: "\n").filter {
            $0.contains("not answered: virustotal quota_exhausted: virustotal quota of 4 per minute used (until 20")
        }
    }

    /// The log lines that tell, once per process, that the quota's window is spent.
    static func noticeLines(_ log: String) -> [Substring] {
        log.split(separator: "\n").filter {
            $0.range(
                of:
                    #"custom-verdict: virustotal quota of 4 per minute used \(until [0-9T:Z-]+\); virustotal is not asked until then$"#,
                options: .regularExpression
            ) != nil
        }
    }

    /// The minute (since 1970) of now.
    static var minute: Int { Int(Date().timeIntervalSince1970) / 60 }

    /// Waits until at most `latest` seconds into a minute, so that a batch of runs falls in one window.
    static func waitForEarlyInAMinute(latest: Int = 20) async throws {
        while Int(Date().timeIntervalSince1970) % 60 > latest {
            try await Task.sleep(for: .milliseconds(250))
        }
    }

    @Test func twentyProcessesShareOneFourAMinuteWindow() async throws {
        // A batch that straddles a minute boundary spends two windows: it is run again (a fresh store) then.
        for attempt in 1...3 {
            try await Self.waitForEarlyInAMinute()
            let home = try WazuhHome()
            let outcome = try await MockProviderServer.with(Self.virusTotalAnswer) { mock in
                let environment = Self.virusTotal(mock)
                let started = Self.minute
                // Ten at once, as integratord starts them for a burst of alerts, then ten one after another.
                let concurrent = try await withThrowingTaskGroup(of: Int32.self) { group in
                    for index in 0..<10 {
                        group.addTask {
                            try await Self.run(
                                home,
                                address: "45.155.205.\(index + 10)",
                                id: index,
                                environment: environment
                            )
                            .status
                        }
                    }
                    return try await group.reduce(into: [Int32]()) { $0.append($1) }
                }
                let noticesOfTheBurst = Self.noticeLines(home.log).count
                var serial: [Int32] = []
                for index in 10..<20 {
                    serial.append(
                        try await Self.run(
                            home,
                            address: "45.155.205.\(index + 10)",
                            id: index,
                            environment: environment
                        )
                        .status
                    )
                }
                guard Self.minute == started else { return false }
                #expect(concurrent + serial == Array(repeating: 0, count: 20), "\(home.log)")
                #expect(mock.requests.count == 4, "\(mock.requests.map(\.uri))")
                #expect(Self.quotaLines(home.log).count == 16, "\(home.log)")
                // Each process that found the window spent says so once, with when it refills: a cold run of the
                // burst (no engine was up yet) for its alert, the warm engine once for all the runs it serves.
                let notices = Self.noticeLines(home.log).count
                #expect(noticesOfTheBurst >= 1, "\(home.log)")
                #expect(notices - noticesOfTheBurst <= 1, "the ten runs in a row said it at most once: \(home.log)")
                let events = await home.receiver!.wait(for: 20)
                #expect(events.count == 20)
                // With no outside source answering, each refused alert is kept for later, and its one event says why.
                let refused = events.filter {
                    $0.contains(#""deferred":"no outside source answered: virustotal quota_exhausted"#)
                }
                #expect(refused.count == 16, "each refused alert's event says which source did not answer")

                // The next minute's window allows four more.
                while Self.minute == started { try await Task.sleep(for: .milliseconds(250)) }
                for index in 20..<25 {
                    let run = try await Self.run(
                        home,
                        address: "45.155.205.\(index + 10)",
                        id: index,
                        environment: environment
                    )
                    #expect(run.status == 0)
                }
                // The first run of the new window answers its own alert and retries queued ones with the rest of
                // the window; the other four find it spent again.
                #expect(mock.requests.count == 8)
                #expect(Self.quotaLines(home.log).count == 20)
                return true
            }
            if outcome { return }
            #expect(attempt < 3, "three batches in a row straddled a minute boundary")
        }
    }

    @Test func a429SeenByOneProcessHoldsBackEveryOther() async throws {
        let home = try WazuhHome()
        let quotaExceeded: MockProviderServer.Handler = { _ in
            .json(
                429,
                #"{"error":{"code":"QuotaExceededError","message":"Quota exceeded"}}"#,
                headers: [("Retry-After", "120")]
            )
        }
        try await MockProviderServer.with(quotaExceeded) { mock in
            let environment = Self.virusTotal(mock, ["VERDICT_VIRUSTOTAL_RATE": "100/minute"])
            let seen = Date().timeIntervalSince1970
            #expect(try await Self.run(home, address: "45.155.205.40", id: 1, environment: environment).status == 0)
            #expect(mock.requests.count == 1)
            for index in 2...4 {
                #expect(
                    try await Self.run(home, address: "45.155.205.4\(index)", id: index, environment: environment)
                        .status == 0
                )
            }
            #expect(mock.requests.count == 1, "no process calls VirusTotal while its Retry-After lasts")
            let waits = home.log.split(separator: "\n").filter {
                $0.contains("not answered: virustotal quota_exhausted: virustotal asked to wait")
            }
            #expect(waits.count == 3, "\(home.log)")
            // Each names the time it is blocked until: 120 s after the 429.
            for line in waits {
                let stamp = try #require(
                    line.range(of: #"until (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)"#, options: .regularExpression)
                )
                let text = line[stamp].dropFirst("until ".count)
                let until = try #require(ISO8601DateFormatter().date(from: String(text))).timeIntervalSince1970
                #expect(abs(until - (seen + 120)) < 30, "\(line)")
            }
        }
    }

    @Test func aHungSourceIsSkippedByLaterProcessesUntilOneProbeFindsItBack() async throws {
        let home = try WazuhHome()
        let healthy = Atomic<Bool>(false)
        let hungUntilHealthy: MockProviderServer.Handler = { request in
            healthy.load(ordering: .relaxed) ? Self.virusTotalAnswer(request) : .hang
        }
        try await MockProviderServer.with(hungUntilHealthy) { mock in
            let environment = Self.virusTotal(
                mock,
                [
                    "VERDICT_VIRUSTOTAL_RATE": "100/minute", "VERDICT_VIRUSTOTAL_TIMEOUT_MS": "4000",
                    "VERDICT_VIRUSTOTAL_FAILURE_THRESHOLD": "2", "VERDICT_VIRUSTOTAL_OPEN_SECONDS": "4",
                ]
            )
            for index in 1...2 {
                let run = try await Self.run(home, address: "45.155.205.5\(index)", id: index, environment: environment)
                #expect(run.status == 0)
                #expect(run.elapsed >= .seconds(4), "the first failures cost the source's deadline")
            }
            #expect(mock.requests.count == 2)
            // The circuit is open for every later process: VirusTotal is not asked, and the alert does not wait.
            for index in 3...5 {
                let run = try await Self.run(home, address: "45.155.205.5\(index)", id: index, environment: environment)
                #expect(run.status == 0)
                #expect(run.elapsed < .seconds(2), "far under the 4 s deadline: \(run.elapsed)")
            }
            #expect(mock.requests.count == 2)
            let open = home.log.split(separator: "\n").filter {
                $0.contains("not answered: virustotal circuit_open: virustotal failed 2 times in a row; next try in")
            }
            #expect(open.count == 3, "\(home.log)")

            // The source is back; after open_seconds one probe is let through and closes the circuit.
            healthy.store(true, ordering: .relaxed)
            try await Task.sleep(for: .seconds(4))
            let probe = try await Self.run(home, address: "45.155.205.60", id: 6, environment: environment)
            #expect(probe.status == 0)
            // The probe's run then retries the five alerts the outage kept (retry.per_run 5): nothing is lost.
            #expect(mock.requests.count == 3 + 5, "\(home.log)")
            let queue = SQLiteRetryQueue(database: try VerdictDatabase(directory: home.path + "/var/verdict"))
            #expect(try await queue.summary().queued == 0)
            let after = try await Self.run(home, address: "45.155.205.61", id: 7, environment: environment)
            #expect(after.status == 0)
            #expect(mock.requests.count == 9, "closed again: every process asks VirusTotal")
            #expect(!home.log.split(separator: "\n").last!.contains("not answered"), "\(home.log)")
        }
    }

    @Test func verdictServeAndCustomVerdictSpendOneWindow() async throws {
        // As above: a run that straddles a minute boundary spends two windows, and is run again.
        for attempt in 1...3 {
            try await Self.waitForEarlyInAMinute(latest: 20)
            let home = try WazuhHome()
            let started = Self.minute
            let inOneWindow = try await Self.serveBesideCustomVerdict(home)
            if inOneWindow && Self.minute == started { return }
            #expect(attempt < 3, "three runs in a row straddled a minute boundary")
        }
    }

    /// Three lookups through `verdict serve`, then three alerts through custom-verdict, at 4 a minute; false when
    /// the minute changed on the way (then the counts say nothing).
    static func serveBesideCustomVerdict(_ home: WazuhHome) async throws -> Bool {
        let started = Self.minute
        return try await MockProviderServer.with(Self.virusTotalAnswer) { mock in
            var environment = Self.virusTotal(mock)
            environment["VERDICT_DATA_DIR"] = home.path + "/var/verdict"
            environment["VERDICT_INTERNETDB_ENABLED"] = "false"
            environment["VERDICT_CONFIG"] = ""
            let server = try VerdictServeProcess(["serve", "--port", "0"], environment: environment)
            defer { server.stop() }
            let port = try await server.port()
            let key = try String(contentsOfFile: home.path + "/var/verdict/admin-key", encoding: .utf8)
                .trimmingCharacters(in: .newlines)
            let http = HTTPClient(eventLoopGroupProvider: .singleton)
            var statuses: [String] = []
            for index in 0..<3 {
                var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/enrichment/lookup")
                request.method = .POST
                request.headers.add(name: "Authorization", value: "Bearer \(key)")
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(string: #"{"indicators": ["45.155.205.7\#(index)"]}"#))
                let response = try await http.execute(request, timeout: .seconds(20))
                let body = try JSONValue(parsing: Array(buffer: try await response.body.collect(upTo: 1 << 20)))
                let sources = body["results"]?.arrayValue?.first?["sources"]?.arrayValue ?? []
                let virusTotal = sources.first { $0["source"] == .string("virustotal") }
                statuses.append(virusTotal?["status"]?.scalarText ?? "?")
            }
            try await http.shutdown()
            #expect(statuses == ["ok", "ok", "ok"])
            // The server spent three of the four: the integration gets one, and then the window is full.
            for index in 0..<3 {
                let run = try await Self.run(home, address: "45.155.205.8\(index)", id: index, environment: environment)
                #expect(run.status == 0)
            }
            guard Self.minute == started else { return false }
            #expect(mock.requests.count == 4, "\(mock.requests.map(\.uri))")
            #expect(Self.quotaLines(home.log).count == 2, "\(home.log)")
            return true
        }
    }

    /// execd runs verdict-ar as root, and people run `verdict` as root; integratord runs custom-verdict as
    /// `wazuh` (here `nobody`). Whoever makes the store's files, the other identity can use them.
    @Test(.enabled(if: getuid() == 0, "needs root: one process runs as root and the next as another user"))
    func filesMadeAsRootStayUsableByTheWazuhUser() async throws {
        let home = try WazuhHome()
        let folder = home.path + "/var/verdict"
        let wazuh = try #require(getpwnam("nobody")?.pointee)
        let message =
            #"{"version":1,"origin":{"name":"node01","module":"wazuh-execd"},"command":"add","parameters":{"extra_args":[],"alert":"#
            + Self.alert(from: "45.155.205.201", id: 1) + #","program":"active-response/bin/verdict-ar"}}"# + "\n"
        // `verdict lookup` as root first, on a data directory with no store yet: root makes every file.
        let lookup = try await WazuhProcess.run(
            WazuhProcess.buildProducts.appendingPathComponent("verdict"),
            argv0: "verdict",
            arguments: ["lookup", "45.155.205.202"],
            home: home.path,
            environment: home.environment.merging(["VERDICT_DATA_DIR": folder, "VERDICT_CONFIG": ""]) { $1 }
        )
        #expect(lookup.status == 0, "\(lookup.output)")
        // Then verdict-ar under execd (root, which it drops) on the same store.
        #expect(try await home.runActiveResponse(message).status == 0)
        func owner(_ file: String) throws -> (user: UInt32, group: UInt32, mode: Int) {
            let attributes = try FileManager.default.attributesOfItem(atPath: folder + "/" + file)
            return (
                (attributes[.ownerAccountID] as? NSNumber)?.uint32Value ?? 0,
                (attributes[.groupOwnerAccountID] as? NSNumber)?.uint32Value ?? 0,
                (attributes[.posixPermissions] as? Int) ?? 0
            )
        }
        for file in ["verdict.sqlite", "verdict.sqlite.lock"] {
            let found = try owner(file)
            #expect(found.user == wazuh.pw_uid && found.group == wazuh.pw_gid, "\(file) belongs to the folder's owner")
            #expect(found.mode == 0o660, "\(file) is the group's to read and write")
        }
        // The tail's state, made by root too.
        #expect(PrivateFile.makeSharedFolder(folder + "/tail"))
        _ = try TailCheckpoint(path: folder + "/tail/tail.checkpoint")
        for file in ["tail", "tail/tail.checkpoint"] {
            #expect(try owner(file).user == wazuh.pw_uid, "\(file) belongs to the folder's owner")
        }

        // custom-verdict as `wazuh`, as integratord runs it: the store made by root is its to use.
        let alert = try home.file("custom-verdict-2.alert", Self.alert(from: "45.155.205.203", id: 2) + "\n")
        let run = try await Self.runIntegration(home, as: wazuh, alert: alert)
        #expect(run.status == 0, "\(run.output) \(home.log)")
        #expect(!home.log.contains("error"), "\(home.log)")
        #expect(home.log.contains("alert 1764583200.2 rule 5760"))
    }

    /// A store this user cannot write (root's, here read by `nobody`; or a file made read-only) stops the run
    /// with the file and the fix; it never runs with no budget.
    @Test func aReadOnlyStoreStopsTheRunWithTheFileAndTheFix() async throws {
        let home = try WazuhHome()
        let folder = home.path + "/var/verdict"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        _ = try VerdictDatabase(directory: folder)
        let alert = try home.file("custom-verdict-1.alert", Self.alert(from: "45.155.205.91", id: 1) + "\n")
        let run: WazuhProcess.Finished
        if getuid() == 0, let wazuh = getpwnam("nobody")?.pointee {
            // Root made the store and kept it (a root process before this fix): `wazuh` may only read it.
            for file in ["", "/verdict.sqlite", "/verdict.sqlite.lock"] {
                chown(folder + file, 0, 0)
                chmod(folder + file, file.isEmpty ? 0o755 : 0o644)
            }
            run = try await Self.runIntegration(home, as: wazuh, alert: alert)
        } else {
            chmod(folder + "/verdict.sqlite", 0o444)
            run = try await home.runIntegration(IntegrationProcessTests.argv(alert: alert))
        }
        #expect(run.status != 0)
        #expect(
            home.log.contains("cannot open \(folder)/verdict.sqlite: Permission denied"),
            "\(home.log)"
        )
        #expect(home.log.contains("check the data directory and its permissions"))
        #expect(home.receiver!.datagrams.isEmpty)
    }

    @Test func aDamagedStoreStopsTheRunWithTheFileAndTheFix() async throws {
        let home = try WazuhHome()
        let folder = home.path + "/var/verdict"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try Data(repeating: 0x41, count: 4096).write(to: URL(fileURLWithPath: folder + "/verdict.sqlite"))
        let run = try await Self.run(home, address: "45.155.205.90", id: 1, environment: [:])
        #expect(run.status != 0)
        #expect(home.log.contains("\(folder)/verdict.sqlite is not a readable Verdict database"), "\(home.log)")
        #expect(home.log.contains("mv \(folder)/verdict.sqlite \(folder)/verdict.sqlite.broken"))
        #expect(home.receiver!.datagrams.isEmpty, "no event from a lookup with no budget")
    }
}

extension JSONValue {
    fileprivate var arrayValue: [JSONValue]? {
        if case .array(let items) = self { return items }
        return nil
    }
}
