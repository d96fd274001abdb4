import Foundation
import VerdictCore

#if canImport(FoundationXML)
import FoundationXML
#endif

/// One `<integration>` block of ossec.conf and integratord's filter over alerts (docs/wazuh.md §1,
/// §1.4): `event_location` (OS_Match on the alert's `location`), `level` (at least), `group` (each comma token
/// equal to one of `rule.groups`, case-sensitive, no trimming), `rule_id` (`atoi` equality); all ANDed.
public struct IntegrationBlock: Sendable, Equatable {
    public var name: String
    public var level: Int?
    public var groups: [String]?
    public var ruleIDs: [Int]?
    public var eventLocation: String?
    public var options: String?
    public var hookURL: String?
    public var apiKey: String?
    public var timeoutSeconds: Double?
    /// `<alert_format>`: integratord hands the JSON alert only when it starts with `json`.
    public var alertFormat: String?

    public init(name: String) {
        self.name = name
    }

    /// Whether integratord would hand this alert to the integration.
    public func accepts(_ alert: JSONValue) -> Bool {
        if let eventLocation {
            guard let location = alert["location"]?.scalarText, Self.osMatch(eventLocation, location) else {
                return false
            }
        }
        if let level {
            guard let alertLevel = alert["rule"]?["level"]?.scalarText.flatMap({ Int($0) }), alertLevel >= level else {
                return false
            }
        }
        if let groups {
            guard case .array(let alertGroups)? = alert["rule"]?["groups"] else { return false }
            let names = alertGroups.compactMap(\.scalarText)
            guard groups.contains(where: { names.contains($0) }) else { return false }
        }
        if let ruleIDs {
            guard let id = alert["rule"]?["id"]?.scalarText.map(Self.atoi), ruleIDs.contains(id) else { return false }
        }
        return true
    }

    /// C's `atoi`: leading spaces, a sign, digits; 0 when none.
    static func atoi(_ text: String) -> Int {
        var digits = Substring(text.drop { $0 == " " })
        var sign = 1
        if digits.first == "-" || digits.first == "+" {
            sign = digits.first == "-" ? -1 : 1
            digits = digits.dropFirst()
        }
        return sign * (Int(digits.prefix { $0.isASCII && $0.isNumber }) ?? 0)
    }

    /// Wazuh's OS_Match: `|`-separated alternatives, each a case-insensitive substring, `^` anchoring the
    /// start, `$` the end; a leading `!` negates the whole pattern.
    static func osMatch(_ pattern: String, _ text: String) -> Bool {
        var pattern = Substring(pattern)
        var negate = false
        if pattern.hasPrefix("!") {
            negate = true
            pattern = pattern.dropFirst()
        }
        let subject = text.lowercased()
        let matched = pattern.split(separator: "|", omittingEmptySubsequences: false).contains { alternative in
            var body = alternative.lowercased()
            let start = body.hasPrefix("^")
            let end = body.hasSuffix("$")
            if start { body.removeFirst() }
            if end && !body.isEmpty { body.removeLast() }
            switch (start, end) {
            case (true, true): return subject == body
            case (true, false): return subject.hasPrefix(body)
            case (false, true): return subject.hasSuffix(body)
            case (false, false): return subject.contains(body)
            }
        }
        return matched != negate
    }

    /// The `<integration>` blocks of an ossec.conf. Each block is read on its own: the file is a series of
    /// `<ossec_config>` sections that Wazuh's lenient parser accepts even where strict XML would not (a bare
    /// `&` in a `<command>`), and only these blocks matter here. Commented-out blocks are left out.
    public static func blocks(inOssecConf text: String) throws(IntegrationFailure) -> [IntegrationBlock] {
        var blocks: [IntegrationBlock] = []
        var rest = Substring(Self.withoutComments(text))
        while let open = rest.range(of: "<integration>") {
            guard let close = rest[open.upperBound...].range(of: "</integration>") else {
                throw IntegrationFailure(.badSettings, "ossec.conf: an <integration> block is not closed")
            }
            let block = String(rest[open.lowerBound..<close.upperBound])
            let parser = XMLParser(data: Data(block.utf8))
            let reader = Reader()
            parser.delegate = reader
            guard parser.parse() else {
                throw IntegrationFailure(
                    .badSettings,
                    "ossec.conf: an <integration> block is not well-formed XML (\(parser.parserError.map { "\($0.localizedDescription)" } ?? "unknown error"))"
                )
            }
            if let problem = reader.problem { throw IntegrationFailure(.badSettings, "ossec.conf: \(problem)") }
            blocks += reader.blocks
            rest = rest[close.upperBound...]
        }
        return blocks
    }

    static func withoutComments(_ text: String) -> String {
        var result = ""
        var rest = Substring(text)
        while let open = rest.range(of: "<!--") {
            result += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].range(of: "-->") else { return result }
            rest = rest[close.upperBound...]
        }
        return result + rest
    }

    final class Reader: NSObject, XMLParserDelegate {
        var blocks: [IntegrationBlock] = []
        var problem: String?
        private var fields: [String: String]?
        private var text = ""

        func parser(
            _ parser: XMLParser,
            didStartElement name: String,
            namespaceURI: String?,
            qualifiedName: String?,
            attributes: [String: String] = [:]
        ) {
            if name == "integration" { fields = [:] }
            text = ""
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            guard var current = fields else { return }
            guard name == "integration" else {
                current[name] = text.trimmingCharacters(in: .whitespacesAndNewlines)
                fields = current
                return
            }
            fields = nil
            guard let blockName = current["name"], !blockName.isEmpty else {
                problem = "an <integration> block has no <name>"
                return
            }
            var block = IntegrationBlock(name: blockName)
            if let level = current["level"] {
                guard let value = Int(level) else {
                    problem = "<level>\(level)</level> of integration \(blockName) is not a number"
                    return
                }
                block.level = value
            }
            block.groups = current["group"].map { $0.split(separator: ",").map(String.init) }
            block.ruleIDs = current["rule_id"].map {
                $0.split(separator: ",").map { IntegrationBlock.atoi(String($0)) }
            }
            block.eventLocation = current["event_location"]
            block.options = current["options"]
            block.hookURL = current["hook_url"]
            block.apiKey = current["api_key"]
            block.timeoutSeconds = current["timeout"].flatMap(Double.init)
            block.alertFormat = current["alert_format"]
            blocks.append(block)
        }
    }
}

extension IntegrationBlock {
    /// `"api"` of the block's `<options>` JSON, when it names one.
    public var clientAPI: ClientAPI? {
        guard let options, let parsed = try? IntegrationOptions(json: Array(options.utf8), file: "<options>") else {
            return nil
        }
        return parsed.api
    }
}
