import Foundation
import Testing
import VerdictCore
import VerdictEngine
import VerdictRelay
import VerdictWazuh

/// The datagram analysisd gets: header forms, fields, size limit, loop guard; and the argv and options
/// integratord gives.
struct EnrichedEventTests {
    static func alert(agent: String?) throws -> JSONValue {
        let agentPart = agent.map { ",\"agent\":\($0)" } ?? ""
        return try JSONValue(
            parsing: """
                {"timestamp":"2024-05-29T18:33:12.000+0000","rule":{"level":10,"description":"sshd: brute force","id":"5712",
                 "groups":["syslog","sshd"]}\(agentPart),"id":"1716200000.12345","full_log":"Failed password",
                 "data":{"srcip":"185.220.101.4"},"location":"/var/log/auth.log"}
                """
        )
    }

    static let outcome = IndicatorOutcome(
        apiResult: try! JSONValue(
            parsing: """
                {"indicator":{"type":"ipv4","value":"185.220.101.4"},"verdict":"malicious","score":91,"confidence":"high",
                 "summary":"2 of 3 sources: malicious (abuseipdb 100, threatfox botnet_cc)","categories":["botnet_cc","tor"],
                 "cached":true,"age_s":60,"sources":[
                   {"source":"abuseipdb","status":"ok","verdict":"malicious","score":100},
                   {"source":"threatfox","status":"ok","verdict":"malicious","score":90},
                   {"source":"misp","status":"error","error":"timeout after 3000 ms"},
                   {"source":"malwarebazaar","status":"skipped","error":"malwarebazaar does not look up ipv4"}]}
                """
        ),
        field: "data.srcip"
    )!

    @Test func headersFollowWazuhsForms() throws {
        let cases: [(String?, String)] = [
            (nil, "1:verdict:"),
            (#"{"id":"000","name":"wazuh-manager"}"#, "1:verdict:"),
            (#"{"id":"001","name":"web-server-01","ip":"10.0.2.15"}"#, "1:[001] (web-server-01) 10.0.2.15->verdict:"),
            (#"{"id":"002","name":"db01"}"#, "1:[002] (db01) any->verdict:"),
            (#"{"id":"003","name":"v6host","ip":"2001:db8::5"}"#, "1:[003] (v6host) 2001|:db8|:|:5->verdict:"),
            (#"{"id":"004","name":"db-02","ip":"fe80::1"}"#, "1:[004] (db-02) fe80|:|:1->verdict:"),
            // Wazuh allows no `|` or `:` in an agent name: such an alert gets the manager's header.
            (#"{"id":"005","name":"odd|name:x","ip":"fe80::1"}"#, "1:verdict:"),
        ]
        for (agent, header) in cases {
            let context = AlertContext(alert: try Self.alert(agent: agent))
            #expect(EnrichedEvent.header(for: context) == header)
            let datagram = String(decoding: EnrichedEvent.datagram(for: Self.outcome, alert: context), as: UTF8.self)
            #expect(datagram.hasPrefix(header + "{\"integration\":\"verdict\","))
        }
    }

    @Test func theEventCarriesTheDesignFields() throws {
        let context = AlertContext(
            alert: try Self.alert(agent: #"{"id":"001","name":"web-server-01","ip":"10.0.2.15"}"#)
        )
        let datagram = String(decoding: EnrichedEvent.datagram(for: Self.outcome, alert: context), as: UTF8.self)
        let payload = try JSONValue(
            parsing: String(datagram.dropFirst("1:[001] (web-server-01) 10.0.2.15->verdict:".count))
        )
        #expect(payload["integration"] == .string("verdict"))
        let event = payload["verdict"]
        #expect(event?["indicator"] == .string("185.220.101.4"))
        #expect(event?["type"] == .string("ipv4"))
        #expect(event?["field"] == .string("data.srcip"))
        #expect(event?["verdict"] == .string("malicious"))
        #expect(event?["score"] == .number("91"))
        #expect(event?["confidence"] == .string("high"))
        #expect(event?["malicious_sources"] == .string("abuseipdb,threatfox"))
        #expect(event?["error_sources"] == .string("misp"))
        #expect(event?["categories"] == .string("botnet_cc,tor"))
        #expect(event?["cached"] == .bool(true))
        #expect(
            event?["sources"]?["abuseipdb"]
                == .object([("status", .string("ok")), ("verdict", .string("malicious")), ("score", .number("100"))])
        )
        #expect(event?["sources"]?["malwarebazaar"] == nil, "skipped sources are left out")
        #expect(
            event?["source"]
                == .object([
                    ("alert_id", .string("1716200000.12345")), ("rule_id", .string("5712")),
                    ("rule_level", .number("10")),
                    ("rule_description", .string("sshd: brute force")), ("rule_groups", .string("syslog,sshd")),
                    ("agent_id", .string("001")), ("agent_name", .string("web-server-01")),
                ])
        )
        #expect(event?["truncated"] == nil)
    }

    @Test func oversizedEventsAreCutDeterministicallyToTheLimit() throws {
        var huge = Self.outcome
        huge.indicator = Indicator(
            type: .url,
            value: "http://evil.example.net/" + String(repeating: "a/", count: 40_000)
        )
        huge.summary = String(repeating: "é \"quoted\" ", count: 5_000)
        var alert = try Self.alert(agent: #"{"id":"001","name":"n","ip":"10.0.0.1"}"#)
        if case .object(var fields) = alert {
            fields = fields.map {
                $0.key == "rule"
                    ? (
                        $0.key,
                        .object([("id", .string("1")), ("description", .string(String(repeating: "d", count: 30_000)))])
                    ) : $0
            }
            alert = .object(fields)
        }
        let context = AlertContext(alert: alert)
        let first = EnrichedEvent.datagram(for: huge, alert: context)
        let second = EnrichedEvent.datagram(for: huge, alert: context)
        #expect(first == second)
        #expect(first.count <= EnrichedEvent.maxDatagramBytes)
        #expect(first.count > 60_000, "it is cut to fit, not emptied")
        let text = String(decoding: first, as: UTF8.self)
        let payload = try JSONValue(parsing: String(text.dropFirst("1:[001] (n) 10.0.0.1->verdict:".count)))
        #expect(payload["verdict"]?["truncated"] == .bool(true))
        #expect(payload["verdict"]?["sources"] == nil)
        #expect(payload["verdict"]?["verdict"] == .string("malicious"))
        #expect(payload["verdict"]?["indicator"]?.scalarText?.hasPrefix("http://evil.example.net/a/a/") == true)

        // A limit below the size cuts more, and still gives valid JSON.
        let small = EnrichedEvent.datagram(for: huge, alert: context, limit: 4_000)
        #expect(small.count <= 4_000)
        #expect(
            (try? JSONValue(
                parsing: String(decoding: small, as: UTF8.self).dropFirst("1:[001] (n) 10.0.0.1->verdict:".count).utf8
            )) != nil
        )
    }

    @Test func verdictEventsAreNeverEnrichedAgain() throws {
        let fromDecoder = try JSONValue(
            parsing:
                #"{"rule":{"id":"100601","level":12,"groups":["verdict","threat_intel"]},"data":{"integration":"verdict"},"location":"verdict"}"#
        )
        #expect(AlertContext(alert: fromDecoder).isVerdictEvent)
        let byLocation = try JSONValue(parsing: #"{"rule":{"id":"1","level":3,"groups":["x"]},"location":"verdict"}"#)
        #expect(AlertContext(alert: byLocation).isVerdictEvent)
        #expect(!AlertContext(alert: try Self.alert(agent: nil)).isVerdictEvent)
        // A log line that claims to be Verdict's is still enriched: only where it came from counts.
        let forged = try JSONValue(
            parsing:
                #"{"rule":{"id":"86601","level":3,"groups":["ids","suricata"]},"data":{"integration":"verdict","src_ip":"185.220.101.4"},"location":"/var/log/suricata/eve.json"}"#
        )
        #expect(!AlertContext(alert: forged).isVerdictEvent)
    }

    @Test func agentFieldsWazuhWouldRefuseMakeTheManagersHeader() throws {
        let crafted = [
            #"{"id":"002] (other) any->x","name":"web","ip":"10.0.0.9"}"#,
            #"{"id":"001","name":"web) 10.0.0.1->fake","ip":"10.0.0.9"}"#,
            #"{"id":"001","name":"web\nnext","ip":"10.0.0.9"}"#,
            #"{"id":"001","name":"\#(String(repeating: "a", count: 70_000))","ip":"10.0.0.9"}"#,
            #"{"id":"001","name":"web","ip":"10.0.0.9 (x)"}"#,
            #"{"id":"abc","name":"web","ip":"10.0.0.9"}"#,
        ]
        for agent in crafted {
            let context = AlertContext(alert: try Self.alert(agent: agent))
            #expect(EnrichedEvent.header(for: context) == "1:verdict:", "\(agent.prefix(60))")
        }
        let real = AlertContext(
            alert: try Self.alert(agent: #"{"id":"017","name":"db-01.corp_eu","ip":"2001:db8::7"}"#)
        )
        #expect(EnrichedEvent.header(for: real) == "1:[017] (db-01.corp_eu) 2001|:db8|:|:7->verdict:")
    }

    @Test func integratordArgumentLayouts() throws {
        let current = try IntegratorArguments([
            "/tmp/custom-verdict-1-2.alert", "k", "http://v:8080", "", "/tmp/o.options", "10", "3", "> /dev/null 2>&1",
        ])
        #expect(
            current
                == IntegratorArguments(
                    alertFile: "/tmp/custom-verdict-1-2.alert",
                    apiKey: "k",
                    hookURL: "http://v:8080",
                    optionsFile: "/tmp/o.options",
                    timeoutSeconds: 10,
                    retries: 3
                )
        )
        let debugging = try IntegratorArguments(["/tmp/a.alert", "", "", "debug", "", "7", "3"])
        #expect(debugging == IntegratorArguments(alertFile: "/tmp/a.alert", debug: true, timeoutSeconds: 7, retries: 3))
        let wazuh47 = try IntegratorArguments(["/tmp/a.alert", "k", "", "", "/tmp/o.options"])
        #expect(wazuh47 == IntegratorArguments(alertFile: "/tmp/a.alert", apiKey: "k", optionsFile: "/tmp/o.options"))
        let wazuh46 = try IntegratorArguments(["/tmp/a.alert", "k", "http://v", "> /dev/null 2>&1"])
        #expect(wazuh46 == IntegratorArguments(alertFile: "/tmp/a.alert", apiKey: "k", hookURL: "http://v"))
        let byHand = try IntegratorArguments(["/tmp/a.alert"])
        #expect(byHand == IntegratorArguments(alertFile: "/tmp/a.alert"))
        #expect(throws: IntegrationFailure.self) { try IntegratorArguments([]) }
        #expect(throws: IntegrationFailure.self) { try IntegratorArguments(["", "k"]) }
        #expect(throws: IntegrationFailure.self) { try IntegratorArguments(["/tmp/a", "", "", "", "", "soon", "3"]) }
    }

    @Test func theWazuhHomeIsFoundAsWazuhsScriptsFindIt() {
        #expect(wazuhHome(environment: [:], executablePath: "/opt/wazuh/integrations/custom-verdict") == "/opt/wazuh")
        #expect(
            wazuhHome(environment: [:], executablePath: "/opt/wazuh/active-response/bin/verdict-ar") == "/opt/wazuh"
        )
        #expect(
            wazuhHome(environment: ["VERDICT_WAZUH_HOME": "/srv/ossec"], executablePath: "/opt/wazuh/integrations/x")
                == "/srv/ossec"
        )
        #expect(wazuhHome(environment: [:], executablePath: "/nowhere/bin/custom-verdict") == "/var/ossec")
    }

    @Test func optionsAreCheckedAndExplained() throws {
        let options = try IntegrationOptions(
            json: Array(
                #"{"sources": "abuseipdb, otx", "min_verdict": "all", "timeout": 2.5, "skip_fields": ["data.dstip"], "max_per_type": 5}"#
                    .utf8
            ),
            file: "o"
        )
        #expect(options.sources == ["abuseipdb", "otx"])
        #expect(options.minimumVerdict == nil)
        #expect(options.timeoutSeconds == 2.5)
        #expect(options.maxPerType == 5)
        #expect(try IntegrationOptions(json: Array("\n".utf8), file: "o") == IntegrationOptions())
        for (text, mention) in [
            ("{", "not JSON"), ("[]", "not a JSON object"), (#"{"minverdict": "x"}"#, "unknown option \"minverdict\""),
            (#"{"min_verdict": "bad"}"#, "is not malicious, suspicious"), (#"{"timeout": "soon"}"#, "\"timeout\""),
            (#"{"sources": []}"#, "empty"),
        ] {
            do {
                _ = try IntegrationOptions(json: Array(text.utf8), file: "/tmp/x.options")
                Issue.record("accepted \(text)")
            } catch {
                #expect(error.description.contains(mention), "\(text): \(error.description)")
                #expect(error.kind == .badSettings)
            }
        }
    }

    @Test func activeResponseMessagesAreCheckedAsWazuhDoes() throws {
        let good =
            #"{"version":1,"origin":{"name":"node01","module":"wazuh-execd"},"command":"add","parameters":{"extra_args":["min_verdict=all"],"alert":{"rule":{"id":"5712"}},"program":"active-response/bin/verdict-ar"}}"#
        let message = try ActiveResponseMessage(line: Array(good.utf8))
        #expect(message.command == "add")
        #expect(message.extraArguments == ["min_verdict=all"])
        #expect(message.alert?["rule"]?["id"] == .string("5712"))
        for bad in [
            #"{"origin":{},"command":"add","parameters":{}}"#, #"{"version":1,"origin":{},"command":"add"}"#,
            #"{"version":"1","origin":{},"command":"add","parameters":{}}"#, "not json",
        ] {
            #expect(throws: IntegrationFailure.self, "\(bad)") { try ActiveResponseMessage(line: Array(bad.utf8)) }
        }
    }

    @Test func theShippedFilesAreTheOnesCompiledIn() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let rules = try String(
            contentsOf: root.appendingPathComponent("wazuh/rules/verdict_rules.xml"),
            encoding: .utf8
        )
        let example = try String(contentsOf: root.appendingPathComponent("wazuh/ossec.conf.example"), encoding: .utf8)
        #expect(WazuhFiles.rules + "\n" == rules, "run scripts/generate-wazuh-files.py")
        #expect(WazuhFiles.ossecConfExample + "\n" == example, "run scripts/generate-wazuh-files.py")
    }
}
