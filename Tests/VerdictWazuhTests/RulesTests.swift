import Foundation
import Testing
import VerdictCore
import VerdictWazuh

#if canImport(FoundationXML)
import FoundationXML
#endif

/// `wazuh/rules/verdict_rules.xml` against the events we emit, read the way analysisd reads them: the JSON
/// decoder flattens nested keys with `.` and every scalar becomes a string (docs/wazuh.md §2);
/// `<field>` values are OS_Regex patterns; children of a rule are tried in file order, first match wins.
struct RulesTests {
    struct Rule {
        var id: Int
        var level: Int
        var parent: Int?
        var fields: [(name: String, pattern: String)]
        var description: String
        var decodedAs: String?
        var location: String?
        /// The rule's own `<group>` names; its alerts also carry the enclosing group's.
        var groups: [String] = []
        /// A CDB list rule's `<list field= lookup=>` and path, and its `<if_group>`.
        var list: (field: String, lookup: String, path: String)?
        var ifGroup: String?
    }

    /// Reads the rules with an XML parser (so the file must be well-formed).
    final class RulesReader: NSObject, XMLParserDelegate {
        var rules: [Rule] = []
        var groups: [String] = []
        private var current: Rule?
        private var element = ""
        private var fieldName = ""
        private var text = ""

        func parser(
            _ parser: XMLParser,
            didStartElement name: String,
            namespaceURI: String?,
            qualifiedName: String?,
            attributes: [String: String] = [:]
        ) {
            element = name
            text = ""
            switch name {
            case "group" where current == nil: groups.append(attributes["name"] ?? "")
            case "rule":
                current = Rule(
                    id: Int(attributes["id"] ?? "") ?? -1,
                    level: Int(attributes["level"] ?? "") ?? -1,
                    fields: [],
                    description: ""
                )
            case "field": fieldName = attributes["name"] ?? ""
            case "list": listAttributes = (attributes["field"] ?? "", attributes["lookup"] ?? "")
            default: break
            }
        }

        private var listAttributes = ("", "")

        func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            switch name {
            case "rule":
                if let current { rules.append(current) }
                current = nil
            case "field": current?.fields.append((fieldName, text))
            case "if_sid": current?.parent = Int(text.split(separator: ",")[0].trimmingCharacters(in: .whitespaces))
            case "if_group": current?.ifGroup = text
            case "list": current?.list = (listAttributes.0, listAttributes.1, text)
            case "description": current?.description = text
            case "decoded_as": current?.decodedAs = text
            case "location": current?.location = text
            case "group" where current != nil:
                current?.groups += text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            default: break
            }
        }
    }

    func rules() throws -> ([Rule], [String]) {
        let parser = XMLParser(data: Data(WazuhFiles.rules.utf8))
        let reader = RulesReader()
        parser.delegate = reader
        #expect(parser.parse(), "not well-formed XML: \(parser.parserError.map { "\($0)" } ?? "")")
        return (reader.rules, reader.groups)
    }

    /// analysisd's view of an event: flattened keys (without `data.`), every scalar as a string.
    static func decoded(_ datagram: [UInt8]) throws -> [String: String] {
        let text = String(decoding: datagram, as: UTF8.self)
        guard let start = text.range(of: "->verdict:")?.upperBound ?? text.range(of: "1:verdict:")?.upperBound else {
            return [:]
        }
        var fields: [String: String] = [:]
        func flatten(_ value: JSONValue, _ prefix: String) {
            switch value {
            case .object(let members):
                for member in members where fields[prefix + member.key] == nil || member.value.isContainer {
                    flatten(member.value, prefix.isEmpty ? member.key : prefix + "." + member.key)
                }
            case .array: fields[prefix] = "[array]"
            case .null: fields[prefix] = "null"
            case .bool(let flag): fields[prefix] = flag ? "true" : "false"
            case .number(let number): fields[prefix] = number
            case .string(let string): fields[prefix] = string
            }
        }
        flatten(try JSONValue(parsing: String(text[start...])), "")
        return fields
    }

    /// The OS_Regex subset the rules use: `^…$` anchors, `\.` any character, `+` one or more, literals.
    static func matches(_ pattern: String, _ value: String) -> Bool {
        var body = pattern
        let anchoredStart = body.hasPrefix("^")
        let anchoredEnd = body.hasSuffix("$")
        if anchoredStart { body.removeFirst() }
        if anchoredEnd { body.removeLast() }
        if body == "\\.+" { return !value.isEmpty }
        switch (anchoredStart, anchoredEnd) {
        case (true, true): return value == body
        case (true, false): return value.hasPrefix(body)
        case (false, true): return value.hasSuffix(body)
        case (false, false): return value.contains(body)
        }
    }

    /// The rule analysisd would end on: the base rule, then the first child that matches, recursively.
    func matchingRule(_ fields: [String: String], rules: [Rule]) -> Rule? {
        func passes(_ rule: Rule) -> Bool {
            rule.fields.allSatisfy { field in fields[field.name].map { Self.matches(field.pattern, $0) } ?? false }
        }
        guard var matched = rules.first(where: { $0.parent == nil && $0.decodedAs == "json" && passes($0) }) else {
            return nil
        }
        while let child = rules.first(where: { $0.parent == matched.id && passes($0) }) { matched = child }
        return matched
    }

    static func outcome(_ verdict: Verdict, confidence: Confidence, sources: [SourceOutcome]) -> IndicatorOutcome {
        var outcome = EnrichedEventTests.outcome
        outcome.verdict = verdict
        outcome.confidence = confidence
        outcome.sources = sources
        return outcome
    }

    @Test func rulesAreWellFormedInRangeAndMatchTheEventsWeEmit() throws {
        let (rules, groups) = try rules()
        #expect(groups == ["verdict,threat_intel,"])
        #expect(rules.count >= 5)
        #expect(rules.allSatisfy { (100600...100649).contains($0.id) })
        #expect(Set(rules.map(\.id)).count == rules.count, "rule IDs are unique")
        #expect(rules.allSatisfy { (0...16).contains($0.level) })
        let base = try #require(rules.first)
        #expect(base.decodedAs == "json")
        #expect(base.location == "^verdict$", "only events with Verdict's queue header, never a forged log line")
        #expect(base.fields.map(\.name) == ["integration"])

        let context = AlertContext(
            alert: try EnrichedEventTests.alert(agent: #"{"id":"001","name":"web","ip":"10.0.0.9"}"#)
        )
        let ok = { (name: String, verdict: Verdict) in
            SourceOutcome(name: name, status: .ok, verdict: verdict, score: 90)
        }
        let failed = SourceOutcome(name: "misp", status: .error)
        let cases: [(IndicatorOutcome, Int)] = [
            (
                Self.outcome(
                    .malicious,
                    confidence: .high,
                    sources: [ok("abuseipdb", .malicious), ok("threatfox", .malicious)]
                ), 100603
            ),
            (Self.outcome(.malicious, confidence: .medium, sources: [ok("abuseipdb", .malicious), failed]), 100601),
            (Self.outcome(.suspicious, confidence: .low, sources: [ok("otx", .suspicious)]), 100602),
            (
                Self.outcome(
                    .unknown,
                    confidence: .low,
                    sources: [failed, SourceOutcome(name: "virustotal", status: .quotaExhausted)]
                ), 100610
            ),
            (
                Self.outcome(.unknown, confidence: .low, sources: [SourceOutcome(name: "otx", status: .notFound)]),
                100611
            ),
            (Self.outcome(.harmless, confidence: .high, sources: [ok("greynoise", .harmless)]), 100612),
        ]
        var emittedNames = Set<String>()
        for (outcome, expected) in cases {
            let fields = try Self.decoded(EnrichedEvent.datagram(for: outcome, alert: context))
            emittedNames.formUnion(fields.keys)
            #expect(matchingRule(fields, rules: rules)?.id == expected, "\(outcome.verdict) → \(expected)")
        }
        // An alert kept in the retry queue says so in one event of its own.
        let deferred = try Self.decoded(
            EnrichedEvent.deferredDatagram(
                for: context,
                reason: "the Verdict server at http://verdict:8080 did not answer within 4800 ms",
                indicators: ["185.220.101.4"],
                queued: 3
            )
        )
        emittedNames.formUnion(deferred.keys)
        #expect(matchingRule(deferred, rules: rules)?.id == 100613)
        // The CDB list rules match Wazuh's own decoded events (not ours) against the lists `verdict wazuh lists`
        // writes: their ids, lists and lookups are checked here, their fields are Wazuh's.
        let listRules = rules.filter { $0.list != nil }
        #expect(listRules.count >= 10)
        for rule in listRules {
            let list = rule.list!
            #expect((100620...100639).contains(rule.id), "rule \(rule.id): list rules use 100620-100639")
            #expect(rule.parent != nil || rule.ifGroup != nil, "rule \(rule.id) hangs under Wazuh's own rules")
            #expect(
                WazuhLists.Kind.allCases.map { "etc/lists/verdict/\($0.rawValue)" }.contains(list.path),
                "rule \(rule.id) reads \(list.path)"
            )
            #expect(list.lookup == (list.path.hasSuffix("malicious-ip") ? "address_match_key" : "match_key"))
            #expect(rule.description.contains("$(\(list.field))") || rule.description.contains("$(file)"))
        }
        for kind in WazuhLists.Kind.allCases {
            #expect(
                listRules.contains { $0.list?.path == "etc/lists/verdict/\(kind.rawValue)" },
                "no rule reads the \(kind.rawValue) list that verdict wazuh lists writes"
            )
        }
        for rule in rules where rule.list == nil {
            for field in rule.fields {
                #expect(emittedNames.contains(field.name), "rule \(rule.id) reads \(field.name), which no event has")
            }
            // `$(name)` in descriptions must name decoded fields too.
            var rest = Substring(rule.description)
            while let open = rest.range(of: "$(") {
                guard let close = rest[open.upperBound...].firstIndex(of: ")") else { break }
                let name = String(rest[open.upperBound..<close])
                #expect(emittedNames.contains(name), "rule \(rule.id) shows $(\(name)), which no event has")
                rest = rest[close...]
            }
        }
    }
}

extension RulesTests {
    /// The README's `<integration>` blocks for Slack, PagerDuty and Shuffle, filtered the way integratord filters,
    /// pass the alerts of Verdict's malicious rules and nothing else of Verdict's.
    @Test func theReadmesForwardingBlocksSendMaliciousVerdictsOnly() throws {
        let readme = try String(
            contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("README.md"),
            encoding: .utf8
        )
        var xml = ""
        var inBlock = false
        for line in readme.components(separatedBy: "\n") {
            if line == "```xml ossec.conf" {
                inBlock = true
            } else if inBlock && line == "```" {
                inBlock = false
            } else if inBlock {
                xml += line + "\n"
            }
        }
        let blocks = try IntegrationBlock.blocks(inOssecConf: xml)
        #expect(blocks.map(\.name).sorted() == ["pagerduty", "shuffle", "slack"])

        let (rules, fileGroups) = try rules()
        let enclosing = fileGroups.flatMap { $0.split(separator: ",").map(String.init) }
        func alert(of rule: Rule) throws -> JSONValue {
            let groups = (enclosing + rule.groups).map { "\"\($0)\"" }.joined(separator: ",")
            return try JSONValue(
                parsing:
                    #"{"rule":{"id":"\#(rule.id)","level":\#(rule.level),"groups":[\#(groups)]},"location":"verdict","decoder":{"name":"json"}}"#
            )
        }
        let malicious = Set(rules.filter { $0.groups.contains("verdict_malicious") }.map(\.id))
        #expect(malicious == [100601, 100603])
        for block in blocks {
            #expect(block.name == "pagerduty" ? block.apiKey != nil : block.hookURL != nil, "\(block.name)")
            #expect(block.alertFormat?.hasPrefix("json") == true, "\(block.name) gets the JSON alert")
            for rule in rules {
                #expect(
                    block.accepts(try alert(of: rule)) == malicious.contains(rule.id),
                    "\(block.name) on rule \(rule.id)"
                )
            }
            // Nothing else: a stock sshd alert is not forwarded by these blocks.
            let sshd = try JSONValue(
                parsing:
                    #"{"rule":{"id":"5763","level":10,"groups":["syslog","sshd","authentication_failures"]},"location":"/var/log/auth.log"}"#
            )
            #expect(!block.accepts(sshd), "\(block.name) on rule 5763")
        }
    }
}

extension JSONValue {
    var isContainer: Bool {
        switch self {
        case .object, .array: true
        default: false
        }
    }
}
