/// One indicator found in text or an alert, with where it came from and what the warninglists say of it.
public struct FoundIndicator: Sendable, Equatable {
    public let indicator: Indicator
    /// The alert field it came from (dotted path, or `full_log`); nil for plain text.
    public let field: String?
    /// Annotate-policy warninglists the value is on.
    public let warninglists: [String]
}

/// A value that will not be looked up, and why.
public struct SuppressedIndicator: Sendable, Equatable {
    public let indicator: Indicator
    public let field: String?
    public let reason: String
}

/// What extraction found in one text or one alert.
public struct ExtractionResult: Sendable, Equatable {
    public var indicators: [FoundIndicator] = []
    public var suppressed: [SuppressedIndicator] = []
    /// How many values of each type were left out by the per-type cap.
    public var dropped: [IndicatorType: Int] = [:]

    public init() {}

    /// The `verdict extract` output object (docs/contracts.md §1), as one line of JSON.
    public func jsonLine() -> String {
        var writer = JSONWriter()
        writer.raw("{\"indicators\":[")
        for (position, found) in indicators.enumerated() {
            if position > 0 { writer.raw(",") }
            writer.raw("{\"type\":")
            writer.string(found.indicator.type.rawValue)
            writer.raw(",\"value\":")
            writer.string(found.indicator.value)
            if let field = found.field {
                writer.raw(",\"field\":")
                writer.string(field)
            }
            if !found.warninglists.isEmpty {
                writer.raw(",\"warninglists\":")
                writer.value(.array(found.warninglists.map(JSONValue.string)))
            }
            writer.raw("}")
        }
        writer.raw("],\"suppressed\":[")
        for (position, item) in suppressed.enumerated() {
            if position > 0 { writer.raw(",") }
            writer.raw("{\"type\":")
            writer.string(item.indicator.type.rawValue)
            writer.raw(",\"value\":")
            writer.string(item.indicator.value)
            writer.raw(",\"reason\":")
            writer.string(item.reason)
            if let field = item.field {
                writer.raw(",\"field\":")
                writer.string(field)
            }
            writer.raw("}")
        }
        writer.raw("]")
        if !dropped.isEmpty {
            writer.raw(",\"dropped\":{")
            for (position, type) in dropped.keys.sorted().enumerated() {
                if position > 0 { writer.raw(",") }
                writer.key(type.rawValue)
                writer.raw(String(dropped[type]!))
            }
            writer.raw("}")
        }
        writer.raw("}")
        return writer.text
    }
}

/// Extraction as `verdict extract` and the Wazuh integration use it: find candidates, canonicalise,
/// deduplicate, split off what must not be looked up, and cap each type.
public struct IndicatorExtractor: Sendable {
    public var suppressor: Suppressor
    /// At most this many indicators (and as many suppressed values) of each type; nil for no cap.
    public var maxPerType: Int?
    let textExtractor: TextExtractor

    public init(suppressor: Suppressor = Suppressor(), maxPerType: Int? = nil) {
        self.suppressor = suppressor
        self.maxPerType = maxPerType
        // Internal suffixes that are not real TLDs (`corp`, `lan`) must still be recognised to be suppressed.
        let extraTLDs = suppressor.internalSuffixes.compactMap { $0.split(separator: ".").last.map(String.init) }
        self.textExtractor = TextExtractor(extraTopLevelDomains: Set(extraTLDs))
    }

    /// Indicators in free text.
    public func extract(text: String) -> ExtractionResult {
        var collector = Collector(extractor: self)
        // The scanner already returns each indicator once.
        textExtractor.scan(Array(text.utf8)).forEachWithHost { indicator, host in
            collector.add(indicator, field: nil, host: host, isNew: true)
        }
        return collector.result
    }

    /// Values given one by one (the console's or a lookup's list): each assessed as extraction assesses it.
    public func extract(values: [Indicator]) -> ExtractionResult {
        var collector = Collector(extractor: self)
        for indicator in values { collector.add(indicator, field: nil) }
        return collector.result
    }

    /// Indicators in one alert line; throws when the line is not a JSON object.
    public func extract(alertLine: some Collection<UInt8>) throws(JSONParseError) -> ExtractionResult {
        let alert = try JSONValue(parsing: alertLine)
        guard case .object = alert else {
            throw JSONParseError(message: "an alert must be a JSON object", offset: 0)
        }
        return extract(alert: alert)
    }

    /// Indicators in a parsed alert: known fields first, in the alert's own order, then `full_log`.
    public func extract(alert: JSONValue) -> ExtractionResult {
        var collector = Collector(extractor: self)
        walk(alert, path: "", into: &collector)
        if let fullLog = alert["full_log"]?.scalarText {
            // The alert's own agent and manager appear in every log line; they are not indicators.
            let own = Set(
                ["agent.ip", "agent.name", "manager.name", "predecoder.hostname"].compactMap {
                    alert[path: $0]?.scalarText?.lowercased()
                }
            )
            textExtractor.scan(Array(fullLog.utf8)).forEachWithHost { indicator, host in
                if own.contains(indicator.value) {
                    collector.suppress(indicator, field: "full_log", reason: "own-host")
                } else {
                    collector.add(indicator, field: "full_log", host: host)
                }
            }
        }
        return collector.result
    }

    func walk(_ value: JSONValue, path: String, into collector: inout Collector) {
        switch value {
        case .object(let members):
            for member in members {
                let key = member.key.lowercased()
                walk(member.value, path: path.isEmpty ? key : path + "." + key, into: &collector)
            }
        case .array(let elements):
            for element in elements { walk(element, path: path, into: &collector) }
        case .string(let text):
            guard let kind = AlertFields.kind(ofPath: path) else { return }
            read(text, kind: kind, field: path, into: &collector)
        default:
            return
        }
    }

    func read(_ text: String, kind: AlertFields.Kind, field: String, into collector: inout Collector) {
        switch kind {
        case .address, .hostname, .hash, .email:
            // A field that names one value is trusted as that value; anything else is scanned as text.
            if let indicator = try? IndicatorParser.parse(text) {
                collector.add(indicator, field: field)
                return
            }
        case .hashList:
            for pair in text.split(separator: ",") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, ["MD5", "SHA1", "SHA256"].contains(parts[0].uppercased()),
                    let indicator = try? IndicatorParser.parse(String(parts[1]))
                else { continue }
                collector.add(indicator, field: field)
            }
            return
        case .url, .text:
            break
        }
        textExtractor.scan(Array(text.utf8)).forEachWithHost { indicator, host in
            collector.add(indicator, field: field, host: host)
        }
    }

    struct Collector {
        let extractor: IndicatorExtractor
        var result = ExtractionResult()
        var seen: Set<Indicator> = []
        /// Per type, by `IndicatorType.ordinal`.
        var kept = [Int](repeating: 0, count: IndicatorType.allCases.count)
        var suppressedCount = [Int](repeating: 0, count: IndicatorType.allCases.count)

        /// Reports `indicator` as suppressed for `reason` (the alert's own agent or manager), unless a hard reason
        /// (private, reserved, …) says more.
        mutating func suppress(_ indicator: Indicator, field: String?, reason: String) {
            guard seen.insert(indicator).inserted else { return }
            appendSuppressed(indicator, field: field, reason: extractor.suppressor.hardReason(indicator) ?? reason)
        }

        /// - Parameters:
        ///   - host: a URL's or an email's host, when the caller has parsed it already (nil: parsed here).
        ///   - isNew: the caller knows the indicator was not added before.
        mutating func add(_ indicator: Indicator, field: String?, host: Indicator? = nil, isNew: Bool = false) {
            guard isNew || seen.insert(indicator).inserted else { return }
            switch extractor.suppressor.assess(indicator, host: host ?? indicator.host) {
            case .suppressed(let reason):
                appendSuppressed(indicator, field: field, reason: reason)
            case .lookUp(let warninglists):
                let slot = indicator.type.ordinal
                guard kept[slot] < extractor.maxPerType ?? Int.max else {
                    result.dropped[indicator.type, default: 0] += 1
                    return
                }
                kept[slot] += 1
                result.indicators.append(FoundIndicator(indicator: indicator, field: field, warninglists: warninglists))
            }
        }

        /// One suppressed value, within the per-type cap (what the cap leaves out is counted in `dropped`).
        mutating func appendSuppressed(_ indicator: Indicator, field: String?, reason: String) {
            let slot = indicator.type.ordinal
            guard suppressedCount[slot] < extractor.maxPerType ?? Int.max else {
                result.dropped[indicator.type, default: 0] += 1
                return
            }
            suppressedCount[slot] += 1
            result.suppressed.append(SuppressedIndicator(indicator: indicator, field: field, reason: reason))
        }
    }
}
