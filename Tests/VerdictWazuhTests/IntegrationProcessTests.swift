import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
import VerdictCore
import VerdictEngine
import VerdictSQLite
import VerdictServer
import VerdictStore
import VerdictTestSupport
import VerdictWazuh

/// The built `custom-verdict` run exactly as wazuh-integratord runs it: argv[0] `integrations`, the Wazuh
/// home as working directory, stdin /dev/null, the redirection as a literal argument, a real datagram
/// socket bound at queue/sockets/queue.
struct IntegrationProcessTests {
    /// A temporary Wazuh home with the queue socket bound, local feeds, and the alert files.
    final class WazuhHome: Sendable {
        let path: String
        let feeds: String
        let receiver: DatagramReceiver?

        init(bindSocket: Bool = true) throws {
            path =
                FileManager.default.temporaryDirectory.appendingPathComponent("wazuh-\(UUID().uuidString.prefix(8))")
                .path
            feeds = path + "/feeds"
            for folder in ["queue/sockets", "logs", "etc", "integrations", "feeds/blocklists"] {
                try FileManager.default.createDirectory(atPath: path + "/" + folder, withIntermediateDirectories: true)
            }
            try "185.220.101.4\n203.0.113.0/24\nevil-updates.com\n".write(
                toFile: feeds + "/blocklists/soc.txt",
                atomically: true,
                encoding: .utf8
            )
            receiver = bindSocket ? try DatagramReceiver(path: path + "/queue/sockets/queue") : nil
            // As root (CI), lay the home out as Wazuh does, with `nobody` standing in for the `wazuh` user: its
            // folders and the queue socket are that user's, so verdict-ar can become it.
            if getuid() == 0, let user = getpwnam("nobody")?.pointee {
                try FileManager.default.createDirectory(
                    atPath: path + "/var/verdict",
                    withIntermediateDirectories: true
                )
                for owned in ["var/verdict", "logs", "queue/sockets", "queue/sockets/queue"] {
                    chown(path + "/" + owned, user.pw_uid, user.pw_gid)
                }
                chmod(path + "/var/verdict", 0o770)
            }
        }

        var socketPath: String { path + "/queue/sockets/queue" }

        func file(_ name: String, _ content: String) throws -> String {
            let file = path + "/" + name
            try content.write(toFile: file, atomically: true, encoding: .utf8)
            return file
        }

        var log: String { (try? String(contentsOfFile: path + "/logs/integrations.log", encoding: .utf8)) ?? "" }

        /// Embedded mode with the local feeds only (no network).
        var environment: [String: String] {
            ["VERDICT_FEEDS_DIR": feeds, "VERDICT_INTERNETDB_ENABLED": "false"]
        }

        func runIntegration(
            _ arguments: [String],
            environment extra: [String: String] = [:]
        ) async throws -> WazuhProcess.Finished {
            try await WazuhProcess.run(
                WazuhProcess.buildProducts.appendingPathComponent("custom-verdict"),
                argv0: "integrations",
                arguments: arguments,
                home: path,
                environment: environment.merging(extra) { $1 }
            )
        }

        /// `verdict-ar` as wazuh-execd runs it: one line on a standard input that stays open.
        func runActiveResponse(_ line: String, environment extra: [String: String] = [:]) async throws
            -> WazuhProcess.Finished
        {
            try await WazuhProcess.run(
                WazuhProcess.buildProducts.appendingPathComponent("verdict-ar"),
                argv0: "active-response/bin/verdict-ar",
                arguments: [],
                home: path,
                environment: environment.merging(extra) { $1 },
                stdinLine: line
            )
        }

        deinit {
            receiver?.close()
            try? FileManager.default.removeItem(atPath: path)
        }
    }

    static let sshdAlert = """
        {"timestamp":"2024-05-29T18:33:12.000+0000","rule":{"level":10,"description":"sshd: brute force trying to get access to the system. Authentication failed.","id":"5712","mitre":{"id":["T1110"]},"groups":["syslog","sshd","authentication_failures"]},"agent":{"id":"001","name":"web-server-01","ip":"10.0.2.15"},"manager":{"name":"wazuh-manager"},"id":"1716200000.12345","full_log":"May 29 18:33:10 web sshd[1234]: Failed password for root from 185.220.101.4 port 22 ssh2","decoder":{"name":"sshd"},"data":{"srcip":"185.220.101.4","srcuser":"root"},"location":"/var/log/auth.log"}
        """

    /// integratord ≥ 4.8 without debug: alert, key, hook, "", options, timeout, retries, redirection.
    static func argv(alert: String, key: String = "", hook: String = "", options: String = "", timeout: String = "10")
        -> [String]
    {
        [alert, key, hook, "", options, timeout, "3", "> /dev/null 2>&1"]
    }

    @Test func embeddedModeWritesOneEventPerIndicatorFromTheFeedIndex() async throws {
        let home = try WazuhHome()
        let alert = try home.file("custom-verdict-1716200000--42.alert", Self.sshdAlert + "\n")
        let run = try await home.runIntegration(Self.argv(alert: alert))
        #expect(run.status == 0, "\(run.output) \(home.log)")
        let received = await home.receiver!.wait(for: 1)
        #expect(received.count == 1)
        let header = "1:[001] (web-server-01) 10.0.2.15->verdict:"
        let datagram = try #require(received.first)
        #expect(datagram.hasPrefix(header))
        let event = try JSONValue(parsing: String(datagram.dropFirst(header.count)))
        #expect(event["integration"] == .string("verdict"))
        #expect(event["verdict"]?["indicator"] == .string("185.220.101.4"))
        #expect(event["verdict"]?["field"] == .string("data.srcip"))
        #expect(event["verdict"]?["verdict"] == .string("malicious"))
        #expect(event["verdict"]?["malicious_sources"] == .string("local"))
        #expect(event["verdict"]?["cached"] == .bool(false))
        #expect(event["verdict"]?["source"]?["rule_id"] == .string("5712"))
        #expect(event["verdict"]?["source"]?["alert_id"] == .string("1716200000.12345"))
        #expect(
            home.log.contains("custom-verdict: alert 1716200000.12345 rule 5712 agent 001 [embedded]: 1 indicators")
        )
        #expect(
            home.log.range(of: #"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d custom-verdict: "#, options: .regularExpression) != nil
        )
        #expect(
            FileManager.default.fileExists(atPath: home.path + "/var/verdict/verdict.sqlite"),
            "the cache lives in the home"
        )

        let again = try await home.runIntegration(Self.argv(alert: alert))
        #expect(again.status == 0)
        let both = await home.receiver!.wait(for: 2)
        let second = try JSONValue(parsing: String(try #require(both.last).dropFirst(header.count)))
        // The local source answers from the store's feed index on every run, never from the answer cache: a
        // feed sync shows at once.
        #expect(second["verdict"]?["cached"] == .bool(false))
        #expect(second["verdict"]?["malicious_sources"] == .string("local"))
        #expect(run.output.isEmpty && again.output.isEmpty, "nothing on stdout or stderr for integratord to log")
    }

    @Test func concurrentProcessesShareOneFreshCache() async throws {
        let home = try WazuhHome()
        let alert = try home.file("a.alert", Self.sshdAlert)
        // Eight processes at once on a cache that does not exist yet: one creates it, the others wait.
        let statuses = try await withThrowingTaskGroup(of: Int32.self) { group in
            for _ in 0..<8 { group.addTask { try await home.runIntegration(Self.argv(alert: alert)).status } }
            return try await group.reduce(into: [Int32]()) { $0.append($1) }
        }
        #expect(statuses == Array(repeating: 0, count: 8), "\(home.log)")
        let events = await home.receiver!.wait(for: 8)
        #expect(events.count == 8)
        #expect(!home.log.contains("error"))
    }

    @Test func managerAlertsNothingToDoAndTheLoopGuardWriteNothingAndExitZero() async throws {
        let home = try WazuhHome()
        let manager = try home.file(
            "manager.alert",
            #"{"rule":{"level":5,"id":"1002","description":"Unknown problem","groups":["syslog"]},"agent":{"id":"000","name":"wazuh-manager"},"id":"1.2","full_log":"download from hxxps://evil-updates[.]com/x.sh","location":"/var/log/messages"}"#
        )
        #expect(try await home.runIntegration(Self.argv(alert: manager)).status == 0)
        // The domain is on the blocklist, and so is the URL through its host.
        let managerEvents = await home.receiver!.wait(for: 2)
        #expect(managerEvents.allSatisfy { $0.hasPrefix("1:verdict:{\"integration\":\"verdict\"") })
        #expect(managerEvents.count == 2)
        #expect(managerEvents.contains { $0.contains(#""indicator":"https://evil-updates.com/x.sh""#) })

        let privateOnly = try home.file(
            "private.alert",
            #"{"rule":{"level":5,"id":"5710","groups":["sshd"]},"id":"1.3","data":{"srcip":"10.0.0.50"},"full_log":"from 192.168.1.1","location":"/var/log/auth.log"}"#
        )
        #expect(try await home.runIntegration(Self.argv(alert: privateOnly)).status == 0)
        let verdictEvent = try home.file(
            "loop.alert",
            #"{"rule":{"level":12,"id":"100601","groups":["verdict","threat_intel"]},"id":"1.4","data":{"integration":"verdict","verdict":{"indicator":"185.220.101.4"}},"location":"verdict"}"#
        )
        #expect(try await home.runIntegration(Self.argv(alert: verdictEvent)).status == 0)
        try await Task.sleep(for: .milliseconds(300))
        #expect(home.receiver!.datagrams.count == 2, "no events for private values or Verdict's own events")
        #expect(home.log.contains("skipped: the alert is a Verdict event (loop guard)"))
        #expect(home.log.contains("alert 1.3 rule 5710 agent 000 [embedded]: 0 indicators, 2 suppressed"))
    }

    @Test func optionsFileAndOlderArgumentLayouts() async throws {
        let home = try WazuhHome()
        let alert = try home.file(
            "a.alert",
            #"{"rule":{"level":7,"id":"31101","groups":["web"]},"agent":{"id":"002","name":"db01"},"id":"9.9","data":{"srcip":"185.220.101.4","dstip":"203.0.113.7","url":"/x"},"full_log":"GET http://198.51.100.200/ from 185.220.101.4","location":"/var/log/nginx/access.log"}"#
        )
        // min_verdict all writes the unknown TEST-NET value too; skip_fields drops data.dstip.
        let options = try home.file("a.options", #"{"min_verdict": "all", "skip_fields": ["data.dstip"]}"# + "\n")
        #expect(try await home.runIntegration(Self.argv(alert: alert, options: options)).status == 0)
        let events = await home.receiver!.wait(for: 1)
        #expect(events.count == 1, "\(events)")
        #expect(events.allSatisfy { $0.hasPrefix("1:[002] (db01) any->verdict:") })
        #expect(!events.contains { $0.contains("203.0.113.7") })

        // Wazuh 4.7 (no timeout/retries) and 4.6 (no options) layouts.
        #expect(try await home.runIntegration([alert, "", "", "", options]).status == 0)
        #expect(try await home.runIntegration([alert, "", "", "> /dev/null 2>&1"]).status == 0)
        #expect(try await home.runIntegration([alert, "", "", "debug"]).status == 0)
        let all = await home.receiver!.wait(for: 4)
        #expect(all.count == 4)

        let broken = try home.file("b.options", "{min_verdict: all}")
        let refused = try await home.runIntegration(Self.argv(alert: alert, options: broken))
        #expect(refused.status == IntegrationFailure.Kind.badSettings.rawValue)
        #expect(home.log.contains("options file \(broken): not JSON"))
    }

    @Test func badAlertFilesAndMissingOrStoppedAnalysisdFailClearly() async throws {
        let home = try WazuhHome()
        let missing = try await home.runIntegration(Self.argv(alert: home.path + "/nope.alert"))
        #expect(missing.status == 3)
        #expect(home.log.contains("cannot read the alert file \(home.path)/nope.alert"))
        let notJSON = try home.file("text.alert", "alertdate='2024'\nruleid='5712'\n")
        #expect(try await home.runIntegration(Self.argv(alert: notJSON)).status == 4)
        #expect(home.log.contains("<alert_format>json</alert_format>"))
        #expect(try await home.runIntegration([]).status == 2)

        let alert = try home.file("a.alert", Self.sshdAlert)
        home.receiver!.close()  // analysisd stopped: the socket file stays, nobody reads it
        let refused = try await home.runIntegration(Self.argv(alert: alert))
        #expect(refused.status == 6)
        #expect(home.log.contains("ECONNREFUSED"))
        try FileManager.default.removeItem(atPath: home.socketPath)  // never started
        let absent = try await home.runIntegration(Self.argv(alert: alert))
        #expect(absent.status == 5)
        #expect(home.log.contains("does not exist (ENOENT)"))
    }

    @Test func aFullQueueSocketCostsOnlyTheBudget() async throws {
        let home = try WazuhHome(bindSocket: false)
        let stalled = try DatagramReceiver(path: home.socketPath, reading: false)
        defer { stalled.close() }
        #expect(stalled.fill() > 0)
        let alert = try home.file("a.alert", Self.sshdAlert)
        let run = try await home.runIntegration(Self.argv(alert: alert, timeout: "1"))
        #expect(run.status == IntegrationFailure.Kind.socketBusy.rawValue, "\(home.log)")
        // Without the budget it would wait for ever; the bound leaves room for a loaded 2-core machine.
        #expect(run.elapsed < .seconds(8), "budget 1 s, took \(run.elapsed)")
        #expect(home.log.contains("stayed full until the time budget ran out"))
    }

    /// A 70 KB URL is more than any provider takes (they answer 414): it is suppressed, never sent, and its
    /// host is still looked up. (Events cut to the datagram limit: EnrichedEventTests.)
    @Test func anOverlongURLIsNotSentButItsHostIs() async throws {
        let home = try WazuhHome()
        let longURL = "http://evil-updates.com/" + String(repeating: "a", count: 70_000)
        let alert = try home.file(
            "long.alert",
            #"{"rule":{"level":7,"id":"31101","groups":["web"]},"id":"7.7","data":{"url":"\#(longURL)"},"location":"x"}"#
        )
        let options = try home.file("all.options", #"{"min_verdict": "all"}"#)
        #expect(try await home.runIntegration(Self.argv(alert: alert, options: options)).status == 0, "\(home.log)")
        // The run has ended, so all it sent is in the socket; two seconds to read it and see no second event.
        let datagrams = await home.receiver!.wait(for: 2, timeout: .seconds(2))
        #expect(datagrams.count == 1, "the host's event only")
        #expect(datagrams.first?.contains(#""indicator":"evil-updates.com""#) == true)
        #expect(!datagrams.contains { $0.contains("aaaaaaaa") })
    }

    @Test func clientModeUsesTheServerAndNeverShowsTheKey() async throws {
        let home = try WazuhHome()
        let directory = home.path + "/server-data"
        let environment = try await EngineConfiguration.load(
            environment: [
                "VERDICT_FEEDS_DIR": home.feeds, "VERDICT_INTERNETDB_ENABLED": "false", "VERDICT_DATA_DIR": directory,
            ]
        )
        let database = try VerdictDatabase(directory: directory)
        let accounts = SQLiteAccountStore(database: database)
        let key = try await accounts.createKey(name: "manager-01", plan: .starter, monthlyCredits: nil).secret
        let runtime = try EngineRuntime(
            configuration: environment,
            cache: SQLiteLookupCache(database: database),
            feeds: SQLiteFeedStore(database: database)
        )
        try await runtime.prepare()
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let app = buildApplication(
            ServerComponents(engine: runtime.engine, accounts: accounts),
            port: 0,
            logger: logger
        )
        let alert = try home.file("a.alert", Self.sshdAlert)
        try await app.test(.live) { client in
            let url = "http://127.0.0.1:\(client.port!)"
            let run = try await home.runIntegration(Self.argv(alert: alert, key: key, hook: url))
            #expect(run.status == 0, "\(home.log)")
            let events = await home.receiver!.wait(for: 1)
            #expect(events.first?.contains(#""indicator":"185.220.101.4""#) == true)
            #expect(home.log.contains("[client]: 1 indicators"))

            // 151 indicators: more than one request takes. They go in batches, the alert's own field first.
            let addresses = (1...150).map { "185.100.87.\($0)" }.joined(separator: " ")
            let crowded = try home.file(
                "crowded.alert",
                #"{"rule":{"level":10,"id":"5763","groups":["sshd"]},"id":"8.8","agent":{"id":"000","name":"m"},"data":{"srcip":"185.220.101.4"},"full_log":"scan from \#(addresses)","location":"x"}"#
            )
            let options = try home.file("wide.options", #"{"max_per_type": 200}"#)
            // A budget that holds on a busy 2-core machine (151 lookups through a live server, while other tests
            // run whole servers and PostgreSQL beside it).
            let batched = try await home.runIntegration(
                Self.argv(alert: crowded, key: key, hook: url, options: options, timeout: "60")
            )
            #expect(batched.status == 0, "\(home.log)")
            #expect(home.log.contains("[client]: 151 indicators"), "\(home.log)")
            let both = await home.receiver!.wait(for: 2)
            #expect(both.last?.hasPrefix("1:verdict:") == true && both.last?.contains(#""field":"data.srcip""#) == true)

            let wrongKey = "vk_" + String(repeating: "B", count: 40)
            let refused = try await home.runIntegration(
                Self.argv(alert: alert, key: wrongKey, hook: url + "/v1/enrichment/lookup")
            )
            #expect(refused.status == IntegrationFailure.Kind.lookupFailed.rawValue)
            #expect(home.log.contains("answered 401 unknown_api_key"))
        }
        #expect(!home.log.contains(key) && !home.log.contains("BBBBBBBB"), "keys never reach the log")
        await runtime.shutdown()
    }

    /// The hosted DFIR platform as a loopback stand-in, answering in its documented shapes (providers.md §14).
    static let dfirPlatform: MockProviderServer.Handler = { request in
        guard let body = try? JSONValue(parsing: request.body), case .array(let asked)? = body["indicators"] else {
            return .json(400, #"{"error":{"type":"invalid_request","code":"invalid_request","message":"bad body"}}"#)
        }
        if asked.contains(where: { $0["value"] == .string("45.155.205.233") }) {
            return .json(
                402,
                #"{"error":{"type":"insufficient_credits","code":"insufficient_credits","message":"Not enough credits","request_id":"req_1"}}"#
            )
        }
        let results = asked.map { item -> String in
            let value = item["value"]?.scalarText ?? ""
            let type = item["type"]?.scalarText ?? ""
            let bad = value == "185.220.101.4"
            let providers =
                bad
                ? #"{"virustotal":{"verdict":"malicious","score":90,"details":{"positives":12,"total":94}},"abuseipdb":{"verdict":"suspicious","score":75,"details":{"total_reports":342}}}"#
                : #"{"virustotal":{"verdict":"clean","score":0,"details":{}}}"#
            return
                #"{"indicator":{"type":"\#(type)","value":"\#(value)"},"verdict":"\#(bad ? "malicious" : "clean")","score":\#(bad ? 85 : 0),"providers":\#(providers),"enriched_at":"2026-12-01T12:34:56.789Z"}"#
        }
        return .json(
            200,
            #"{"data":{"results":[\#(results.joined(separator: ","))],"summary":{"total":\#(asked.count),"malicious":1,"suspicious":0,"clean":0,"unknown":0}},"meta":{"request_id":"req_abc123","credits_used":3,"credits_remaining":91,"processing_time_ms":1450}}"#,
            headers: [("X-Credits-Used", "3"), ("X-Credits-Remaining", "91")]
        )
    }

    /// The platform's own ossec.conf block, with the executable named custom-verdict: the alert is enriched
    /// through the hosted service and the same events are written.
    @Test func clientModeSpeaksTheDFIRPlatformWhenTheKeyIsItsOwn() async throws {
        let home = try WazuhHome()
        let alert = try home.file("a.alert", Self.sshdAlert)
        let key = "sk-dfir-4f3c2a1b0e9d8c7b6a5f4e3d"
        try await MockProviderServer.with(Self.dfirPlatform) { platform in
            let hook = platform.baseURL + "/v1/enrichment/lookup"
            let run = try await home.runIntegration(Self.argv(alert: alert, key: key, hook: hook))
            #expect(run.status == 0, "\(home.log)")
            let events = await home.receiver!.wait(for: 1)
            #expect(events.first?.contains(#""indicator":"185.220.101.4""#) == true, "\(events)")
            #expect(events.first?.contains(#""verdict":"malicious""#) == true)
            #expect(events.first?.contains("2 of 2 providers of the DFIR platform: malicious (") == true, "\(events)")
            let sent = try #require(platform.requests.first)
            #expect(sent.uri == "/v1/enrichment/lookup" && sent.headers["authorization"] == "Bearer \(key)")
            #expect(sent.bodyText.contains(#"{"type":"ip","value":"185.220.101.4"}"#), "\(sent.bodyText)")
            #expect(!sent.bodyText.contains("sources"), "the platform chooses its providers")

            // More than ten indicators: batches of ten, as the platform takes them.
            let addresses = (1...24).map { "185.100.87.\($0)" }.joined(separator: " ")
            let crowded = try home.file(
                "crowded.alert",
                #"{"rule":{"level":10,"id":"5763","groups":["sshd"]},"id":"8.9","agent":{"id":"000","name":"m"},"data":{"srcip":"185.220.101.4"},"full_log":"scan from \#(addresses)","location":"x"}"#
            )
            let options = try home.file("wide.options", #"{"max_per_type": 50, "api": "dfir"}"#)
            let batched = try await home.runIntegration(
                Self.argv(alert: crowded, key: key, hook: hook, options: options)
            )
            #expect(batched.status == 0, "\(home.log)")
            let sizes = platform.requests.dropFirst().map { request in
                (try? JSONValue(parsing: request.body))?["indicators"].map { value -> Int in
                    if case .array(let items) = value { return items.count }
                    return 0
                } ?? 0
            }
            #expect(sizes.sorted() == [5, 10, 10], "\(sizes)")

            // The platform's errors are told with its code; an alert out of credits is kept for later.
            let spent = try home.file(
                "spent.alert",
                #"{"rule":{"level":10,"id":"5763","groups":["sshd"]},"id":"8.10","agent":{"id":"000","name":"m"},"data":{"srcip":"45.155.205.233"},"location":"x"}"#
            )
            _ = try await home.runIntegration(Self.argv(alert: spent, key: key, hook: hook))
            #expect(home.log.contains("answered 402 insufficient_credits: Not enough credits"), "\(home.log)")
        }
        #expect(!home.log.contains(key), "the key never reaches the log")
    }

    @Test func aServerThatNeverAnswersCostsOnlyTheBudget() async throws {
        let home = try WazuhHome()
        let alert = try home.file("a.alert", Self.sshdAlert)
        let hang: MockProviderServer.Handler = { _ in .hang }
        try await MockProviderServer.with(hang) { server in
            let run = try await home.runIntegration(
                Self.argv(alert: alert, key: "vk_x", hook: server.baseURL, timeout: "2")
            )
            // Kept for later (exit 0, so integratord logs no error), and said so in one event.
            #expect(run.status == 0)
            // The server never answers; the bound leaves room for a loaded 2-core machine.
            #expect(run.elapsed < .seconds(10), "budget 2 s, took \(run.elapsed)")
            #expect(
                home.log.contains(
                    "deferred, will retry (the Verdict server at \(server.baseURL)/v1/enrichment/lookup did not answer within"
                )
            )
            let bad = try await home.runIntegration(Self.argv(alert: alert, key: "k", hook: "ftp://nowhere"))
            #expect(bad.status == 2)
            #expect(home.log.contains("is not an http(s) URL"))
        }
        #expect(home.receiver!.texts.count == 1)
        #expect(home.receiver!.texts.first?.contains(#""deferred":"the Verdict server at"#) == true)
    }

    @Test func activeResponseReadsOneLineFromAnOpenStdin() async throws {
        let home = try WazuhHome()
        let message =
            #"{"version":1,"origin":{"name":"node01","module":"wazuh-execd"},"command":"add","parameters":{"extra_args":["min_verdict=malicious"],"alert":"#
            + Self.sshdAlert + #","program":"active-response/bin/verdict-ar"}}"# + "\n"
        // The pipe stays open while verdict-ar runs, as execd keeps it: reading to EOF would hang here.
        let add = try await home.runActiveResponse(message)
        #expect(add.status == 0)
        #expect(add.elapsed < .seconds(15), "reading to the end of input would never end")
        let events = await home.receiver!.wait(for: 1)
        #expect(events.first?.hasPrefix("1:[001] (web-server-01) 10.0.2.15->verdict:") == true)
        let arLog = (try? String(contentsOfFile: home.path + "/logs/active-responses.log", encoding: .utf8)) ?? ""
        #expect(arLog.contains("active-response/bin/verdict-ar: alert 1716200000.12345 rule 5712 agent 001 [embedded]"))

        let delete = try await home.runActiveResponse(
            message.replacingOccurrences(of: #""command":"add""#, with: #""command":"delete""#)
        )
        #expect(delete.status == 0)
        let malformed = try await home.runActiveResponse(#"{"command":"add","parameters":{}}"# + "\n")
        #expect(malformed.status != 0)
        let after = (try? String(contentsOfFile: home.path + "/logs/active-responses.log", encoding: .utf8)) ?? ""
        #expect(after.contains("invalid input format"))
        try await Task.sleep(for: .milliseconds(200))
        #expect(home.receiver!.datagrams.count == 1, "delete and malformed write nothing")
    }
}
