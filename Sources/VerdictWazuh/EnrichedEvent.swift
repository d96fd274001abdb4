import Foundation
import VerdictCore
import VerdictEngine

/// What the Wazuh event says about one source.
public struct SourceOutcome: Sendable, Equatable {
    public var name: String
    public var status: SourceStatus
    public var verdict: Verdict?
    public var score: Int?
    /// Why it gave no answer (`error`, `quota_exhausted`, `circuit_open`), for the log.
    public var error: String?

    public init(name: String, status: SourceStatus, verdict: Verdict? = nil, score: Int? = nil, error: String? = nil) {
        self.name = name
        self.status = status
        self.verdict = verdict
        self.score = score
        self.error = error
    }
}

/// One looked-up indicator of an alert: from the engine in-process, or from a Verdict server's answer.
public struct IndicatorOutcome: Sendable, Equatable {
    public var indicator: Indicator
    /// The dotted alert field it came from, or `full_log`.
    public var field: String?
    public var verdict: Verdict
    public var score: Int
    public var confidence: Confidence
    public var summary: String
    public var categories: [String]
    public var cached: Bool
    /// An outside source answered during this lookup (what a Verdict server charges credits for).
    public var upstream: Bool
    public var sources: [SourceOutcome]

    public init(report: IndicatorReport, field: String?) {
        indicator = report.indicator
        self.field = field
        verdict = report.verdict
        score = report.score
        confidence = report.confidence
        summary = report.summary
        categories = report.categories
        cached = report.cached
        upstream = report.answeredByExternalSource
        sources = report.sources.map {
            SourceOutcome(name: $0.source, status: $0.status, verdict: $0.verdict, score: $0.score, error: $0.error)
        }
    }

    /// Nothing decided it and every outside source that was asked failed (down, out of quota, circuit open):
    /// worth asking again later rather than reporting `unknown` now. An answer from the local feeds alone does
    /// not count as one, since the outside sources are what was missing.
    public var lacksAnAnswer: Bool {
        guard verdict == .unknown else { return false }
        let outside = sources.filter { $0.name != "local" && $0.status != .skipped }
        return !outside.isEmpty && outside.allSatisfy(\.status.isUnanswered)
    }

    /// One element of the API's `results` array (docs/contracts.md §2); nil when it lacks what an event needs.
    public init?(apiResult result: JSONValue, field: String?) {
        guard let type = result["indicator"]?["type"]?.scalarText.flatMap(IndicatorType.init),
            let value = result["indicator"]?["value"]?.scalarText,
            let verdict = result["verdict"]?.scalarText.flatMap(Verdict.init)
        else { return nil }
        indicator = Indicator(type: type, value: value)
        self.field = field
        self.verdict = verdict
        score = result["score"]?.scalarText.flatMap { Int($0) } ?? 0
        confidence = result["confidence"]?.scalarText.flatMap(Confidence.init) ?? .low
        summary = result["summary"]?.scalarText ?? ""
        if case .array(let items)? = result["categories"] {
            categories = items.compactMap(\.scalarText)
        } else {
            categories = []
        }
        cached = result["cached"] == .bool(true)
        upstream = !cached && verdict != .suppressed
        var sources: [SourceOutcome] = []
        if case .array(let items)? = result["sources"] {
            for item in items {
                guard let name = item["source"]?.scalarText,
                    let status = item["status"]?.scalarText.flatMap(SourceStatus.init)
                else { continue }
                sources.append(
                    SourceOutcome(
                        name: name,
                        status: status,
                        verdict: item["verdict"]?.scalarText.flatMap(Verdict.init),
                        score: item["score"]?.scalarText.flatMap { Int($0) },
                        error: item["error"]?.scalarText
                    )
                )
            }
        }
        self.sources = sources
    }
}

/// What an event repeats of the alert it enriches, and where the event goes (the agent header).
public struct AlertContext: Sendable, Equatable {
    public var alertID: String?
    public var ruleID: String?
    public var ruleLevel: Int?
    public var ruleDescription: String?
    public var ruleGroups: [String]
    public var agentID: String?
    public var agentName: String?
    public var agentIP: String?
    public var location: String?
    /// The alert's own time, as Wazuh wrote it.
    public var timestamp: String?
    /// For an alert enriched from the retry queue: how long ago it was deferred. Its events then say so
    /// (`deferred_s`, and the alert's time).
    public var deferredSeconds: Int?

    public init(alert: JSONValue) {
        alertID = alert["id"]?.scalarText
        ruleID = alert["rule"]?["id"]?.scalarText
        ruleLevel = alert["rule"]?["level"]?.scalarText.flatMap { Int($0) }
        ruleDescription = alert["rule"]?["description"]?.scalarText
        if case .array(let groups)? = alert["rule"]?["groups"] {
            ruleGroups = groups.compactMap(\.scalarText)
        } else {
            ruleGroups = []
        }
        agentID = alert["agent"]?["id"]?.scalarText
        agentName = alert["agent"]?["name"]?.scalarText
        agentIP = alert["agent"]?["ip"]?.scalarText
        location = alert["location"]?.scalarText
        timestamp = alert["timestamp"]?.scalarText
    }

    /// Alerts made from Verdict's own events: enriching them again would loop. Known by where analysisd says
    /// they came from (only a datagram with Verdict's header has location `verdict`) and by Verdict's rules,
    /// never by their content alone: a log line that writes `"integration": "verdict"` is not thereby exempt.
    public var isVerdictEvent: Bool {
        location == EnrichedEvent.tag || ruleGroups.contains("verdict")
    }

    /// The agent fields as Wazuh itself allows them (an ID of digits, a name of letters, digits, `-`, `_` and
    /// `.` up to 128, an IP address or `any`); nil when one is not, so that a crafted name such as
    /// `002] (other) any` can never make an event read as another agent's.
    var validAgent: (id: String, name: String, ip: String)? {
        guard let id = agentID, (1...8).contains(id.count), id.allSatisfy({ $0.isASCII && $0.isNumber }),
            let name = agentName, (1...128).contains(name.count),
            name.unicodeScalars.allSatisfy({
                ($0.isASCII && ($0.properties.isAlphabetic || $0.properties.numericType != nil))
                    || "-_.".unicodeScalars.contains($0)
            })
        else { return nil }
        let ip = agentIP ?? "any"
        guard ip == "any" || IPv4Address(ip) != nil || IPv6Address(Substring(ip)) != nil else { return nil }
        return (id, name, ip)
    }
}

/// The event written back to analysisd for one indicator (docs/contracts.md §4): `1:verdict:{…}` for manager
/// alerts, `1:[id] (name) ip->verdict:{…}` for agent alerts, at most 65,535 bytes with the header.
public enum EnrichedEvent {
    public static let tag = "verdict"
    /// analysisd reads at most this many bytes of a datagram (docs/wazuh.md §2).
    public static let maxDatagramBytes = 65_535

    /// The queue header, with Wazuh's escaping of the agent location (`|` → `||`, `:` → `|:`).
    /// Agent fields Wazuh would not accept make the manager's header instead.
    public static func header(for alert: AlertContext) -> String {
        guard alert.agentID != "000", let agent = alert.validAgent else { return "1:\(tag):" }
        let location = "[\(agent.id)] (\(agent.name)) \(agent.ip)"
        let escaped = location.replacingOccurrences(of: "|", with: "||").replacingOccurrences(of: ":", with: "|:")
        return "1:\(escaped)->\(tag):"
    }

    /// The whole datagram. When it would pass the limit, the per-source details go first, then the summary,
    /// the rule description and the indicator are cut (marked with `…` and `"truncated": true`); the same
    /// input always gives the same bytes.
    public static func datagram(for outcome: IndicatorOutcome, alert: AlertContext, limit: Int = maxDatagramBytes)
        -> [UInt8]
    {
        let header = Array(header(for: alert).utf8)
        var shape = Shape()
        var bytes = header + payload(outcome, alert: alert, shape: shape)
        guard bytes.count > limit else { return bytes }
        shape.withSources = false
        shape.truncated = true
        bytes = header + payload(outcome, alert: alert, shape: shape)
        for cut in [\Shape.summaryLimit, \Shape.descriptionLimit, \Shape.indicatorLimit] where bytes.count > limit {
            let current: Int
            switch cut {
            case \Shape.summaryLimit: current = outcome.summary.utf8.count
            case \Shape.descriptionLimit: current = alert.ruleDescription?.utf8.count ?? 0
            default: current = outcome.indicator.value.utf8.count
            }
            // Escaping can make a byte of text several bytes of JSON; cutting twice settles it.
            shape[keyPath: cut] = max(0, current - (bytes.count - limit) - 8)
            bytes = header + payload(outcome, alert: alert, shape: shape)
            if bytes.count > limit {
                shape[keyPath: cut] = 0
                bytes = header + payload(outcome, alert: alert, shape: shape)
            }
        }
        return bytes
    }

    struct Shape {
        var withSources = true
        var truncated = false
        var summaryLimit = Int.max
        var descriptionLimit = Int.max
        var indicatorLimit = Int.max
    }

    static func payload(_ outcome: IndicatorOutcome, alert: AlertContext, shape: Shape) -> [UInt8] {
        func names(with verdict: Verdict) -> String {
            outcome.sources.filter { $0.status == .ok && $0.verdict == verdict }.map(\.name).joined(separator: ",")
        }
        var fields: [(key: String, value: JSONValue)] = [
            ("indicator", .string(cut(outcome.indicator.value, to: shape.indicatorLimit))),
            ("type", .string(outcome.indicator.type.rawValue)),
        ]
        if let field = outcome.field { fields.append(("field", .string(field))) }
        fields += [
            ("verdict", .string(outcome.verdict.rawValue)), ("score", .number(String(outcome.score))),
            ("confidence", .string(outcome.confidence.rawValue)),
            ("summary", .string(cut(outcome.summary, to: shape.summaryLimit))),
        ]
        for (key, verdict) in [("malicious_sources", Verdict.malicious), ("suspicious_sources", .suspicious)] {
            let listed = names(with: verdict)
            if !listed.isEmpty { fields.append((key, .string(listed))) }
        }
        let failed = outcome.sources.filter(\.status.isUnanswered)
        if !failed.isEmpty { fields.append(("error_sources", .string(failed.map(\.name).joined(separator: ",")))) }
        if !outcome.categories.isEmpty {
            fields.append(("categories", .string(outcome.categories.joined(separator: ","))))
        }
        fields.append(("cached", .bool(outcome.cached)))
        if shape.withSources {
            var perSource: [(key: String, value: JSONValue)] = []
            for source in outcome.sources where source.status != .skipped {
                var entry: [(key: String, value: JSONValue)] = [("status", .string(source.status.rawValue))]
                if let verdict = source.verdict { entry.append(("verdict", .string(verdict.rawValue))) }
                if let score = source.score { entry.append(("score", .number(String(score)))) }
                perSource.append((source.name, .object(entry)))
            }
            if !perSource.isEmpty { fields.append(("sources", .object(perSource))) }
        }
        if let deferred = alert.deferredSeconds { fields.append(("deferred_s", .number(String(deferred)))) }
        fields.append(("source", origin(alert, descriptionLimit: shape.descriptionLimit)))
        if shape.truncated { fields.append(("truncated", .bool(true))) }

        var writer = JSONWriter()
        writer.value(.object([("integration", .string(tag)), (tag, .object(fields))]))
        return writer.bytes
    }

    /// What an event repeats of its alert (`verdict.source`).
    static func origin(_ alert: AlertContext, descriptionLimit: Int) -> JSONValue {
        var origin: [(key: String, value: JSONValue)] = []
        if let id = alert.alertID { origin.append(("alert_id", .string(id))) }
        if let id = alert.ruleID { origin.append(("rule_id", .string(id))) }
        if let level = alert.ruleLevel { origin.append(("rule_level", .number(String(level)))) }
        if let description = alert.ruleDescription {
            origin.append(("rule_description", .string(cut(description, to: descriptionLimit))))
        }
        if !alert.ruleGroups.isEmpty {
            origin.append(("rule_groups", .string(alert.ruleGroups.joined(separator: ","))))
        }
        if let id = alert.agentID { origin.append(("agent_id", .string(id))) }
        if let name = alert.agentName { origin.append(("agent_name", .string(name))) }
        if alert.deferredSeconds != nil, let time = alert.timestamp { origin.append(("alert_time", .string(time))) }
        return .object(origin)
    }

    /// The one event of an alert kept for later (rule 100613): why (`deferred`), which indicators wait, how many alerts are
    /// queued. Its verdict events follow when the lookup succeeds, with `deferred_s`.
    public static func deferredDatagram(
        for alert: AlertContext,
        reason: String,
        indicators: [String],
        queued: Int
    ) -> [UInt8] {
        let shown = indicators.prefix(20).map { cut($0, to: 256) }.joined(separator: ",")
        var writer = JSONWriter()
        writer.value(
            .object([
                ("integration", .string(tag)),
                (
                    tag,
                    .object([
                        ("deferred", .string(cut(reason, to: 1024))),
                        ("indicators", .string(shown)), ("pending", .number(String(indicators.count))),
                        ("queued", .number(String(queued))), ("source", origin(alert, descriptionLimit: 1024)),
                    ])
                ),
            ])
        )
        return Array(header(for: alert).utf8) + writer.bytes
    }

    /// The first `limit` bytes of `text` on a character boundary, with `…` when anything was cut.
    static func cut(_ text: String, to limit: Int) -> String {
        guard text.utf8.count > limit else { return text }
        var kept = ""
        var used = 0
        for character in text {
            let size = character.utf8.count
            if used + size > limit { break }
            kept.append(character)
            used += size
        }
        return kept + "…"
    }
}
