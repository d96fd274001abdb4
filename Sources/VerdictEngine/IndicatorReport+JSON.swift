import VerdictCore

extension IndicatorReport {
    /// The report as one element of the API's `results` array (docs/contracts.md §2).
    public var jsonValue: JSONValue {
        var indicatorFields: [(key: String, value: JSONValue)] = [
            ("type", .string(indicator.type.rawValue)), ("value", .string(indicator.value)),
        ]
        if let input { indicatorFields.append(("input", .string(input))) }
        var fields: [(key: String, value: JSONValue)] = [
            ("indicator", .object(indicatorFields)), ("verdict", .string(verdict.rawValue)),
            ("score", .number(String(score))), ("confidence", .string(confidence.rawValue)),
            ("summary", .string(summary)), ("categories", .array(categories.map(JSONValue.string))),
            ("cached", .bool(cached)), ("age_s", .number(String(ageSeconds))),
        ]
        if let reason { fields.append(("reason", .string(reason))) }
        if !warninglists.isEmpty { fields.append(("warninglists", .array(warninglists.map(JSONValue.string)))) }
        fields.append(("sources", .array(sources.map(\.jsonValue))))
        return .object(fields)
    }
}

extension SourceResult {
    /// One element of a result's `sources` array (docs/contracts.md §2).
    public var jsonValue: JSONValue {
        var fields: [(key: String, value: JSONValue)] = [
            ("source", .string(source)), ("status", .string(status.rawValue)),
        ]
        if let verdict { fields.append(("verdict", .string(verdict.rawValue))) }
        if let score { fields.append(("score", .number(String(score)))) }
        if let error { fields.append(("error", .string(error))) }
        if let latencyMilliseconds { fields.append(("latency_ms", .number(String(latencyMilliseconds)))) }
        if status == .ok {
            if !categories.isEmpty { fields.append(("categories", .array(categories.map(JSONValue.string)))) }
            if !tags.isEmpty { fields.append(("tags", .array(tags.map(JSONValue.string)))) }
            if let firstSeen { fields.append(("first_seen", .string(firstSeen))) }
            if let lastSeen { fields.append(("last_seen", .string(lastSeen))) }
            if let link { fields.append(("link", .string(link))) }
            fields.append(("details", details))
        }
        return .object(fields)
    }
}
