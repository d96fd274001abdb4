import Foundation
import VerdictCore

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
            blocks.append(try Self.block(from: try Self.fields(of: rest[open.upperBound..<close.lowerBound])))
            rest = rest[close.upperBound...]
        }
        return blocks
    }

    /// The `<tag>text</tag>` settings of one block, read as Wazuh's os_xml reads them: the text as written (it
    /// decodes no entities, so `&amp;` stays `&amp;`), trimmed; `<tag/>` is empty. Not a general XML reader:
    /// these blocks hold settings only, and loading libxml2 for them cost every integration run its start time.
    static func fields(of body: Substring) throws(IntegrationFailure) -> [String: String] {
        func malformed(_ what: String) -> IntegrationFailure {
            IntegrationFailure(.badSettings, "ossec.conf: an <integration> block is not well-formed (\(what))")
        }
        var fields: [String: String] = [:]
        var rest = body
        while let open = rest.firstIndex(of: "<") {
            guard rest[..<open].allSatisfy(\.isWhitespace) else {
                throw malformed(
                    "text outside a setting: \(rest[..<open].trimmingCharacters(in: .whitespacesAndNewlines))"
                )
            }
            guard let end = rest[open...].firstIndex(of: ">") else { throw malformed("a tag is not closed") }
            var name = rest[rest.index(after: open)..<end]
            let isEmptyElement = name.hasSuffix("/")
            if isEmptyElement { name = name.dropLast() }
            guard !name.isEmpty,
                name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") })
            else {
                throw malformed("<\(name)> is not a setting's name")
            }
            rest = rest[rest.index(after: end)...]
            if isEmptyElement {
                fields[String(name)] = ""
                continue
            }
            guard let close = rest.range(of: "</\(name)>") else { throw malformed("<\(name)> is not closed") }
            let value = rest[..<close.lowerBound]
            guard !value.contains("<") else { throw malformed("<\(name)> holds another tag") }
            fields[String(name)] = value.trimmingCharacters(in: .whitespacesAndNewlines)
            rest = rest[close.upperBound...]
        }
        guard rest.allSatisfy(\.isWhitespace) else {
            throw malformed("text outside a setting: \(rest.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return fields
    }

    static func block(from fields: [String: String]) throws(IntegrationFailure) -> IntegrationBlock {
        guard let blockName = fields["name"], !blockName.isEmpty else {
            throw IntegrationFailure(.badSettings, "ossec.conf: an <integration> block has no <name>")
        }
        var block = IntegrationBlock(name: blockName)
        if let level = fields["level"] {
            guard let value = Int(level) else {
                throw IntegrationFailure(
                    .badSettings,
                    "ossec.conf: <level>\(level)</level> of integration \(blockName) is not a number"
                )
            }
            block.level = value
        }
        block.groups = fields["group"].map { $0.split(separator: ",").map(String.init) }
        block.ruleIDs = fields["rule_id"].map { $0.split(separator: ",").map { Self.atoi(String($0)) } }
        block.eventLocation = fields["event_location"]
        block.options = fields["options"]
        block.hookURL = fields["hook_url"]
        block.apiKey = fields["api_key"]
        block.timeoutSeconds = fields["timeout"].flatMap(Double.init)
        block.alertFormat = fields["alert_format"]
        return block
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
