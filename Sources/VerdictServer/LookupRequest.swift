import VerdictCore
import VerdictEngine

/// The body of `POST /v1/enrichment/lookup`, read and checked (docs/contracts.md §2). Every problem becomes an
/// `APIError` that names what was wrong and how to fix it; nothing is looked up unless all of it is valid.
struct LookupRequest {
    var items: [(indicator: Indicator, input: String?)]
    /// Only these sources; all configured ones when nil.
    var sources: Set<String>?
    var refresh: Bool

    static let members = ["indicators", "sources", "refresh"]

    /// - Parameters:
    ///   - offSources: configured-off sources by name, with the reason.
    static func parse(
        _ bytes: [UInt8],
        maxIndicators: Int,
        offSources: [String: String]
    ) throws(APIError) -> LookupRequest {
        guard String(validating: bytes, as: UTF8.self) != nil else {
            throw APIError.malformedJSON("the bytes are not valid UTF-8")
        }
        let document: JSONValue
        do {
            document = try JSONValue(parsing: bytes)
        } catch {
            throw APIError.malformedJSON(error.description)
        }
        guard case .object(let fields) = document else {
            throw APIError.invalidRequest(
                "the body must be a JSON object such as {\"indicators\": [\"1.2.3.4\"]}, not \(document.kindName)"
            )
        }
        if let unknown = fields.first(where: { !members.contains($0.key) }) {
            throw APIError.unprocessable(
                "unknown_member",
                "unknown member \"\(unknown.key)\"; the members are indicators, sources and refresh"
            )
        }
        guard let list = document["indicators"] else {
            throw APIError.invalidRequest("the body has no \"indicators\" array; send {\"indicators\": [\"1.2.3.4\"]}")
        }
        guard case .array(let entries) = list else {
            throw APIError.invalidRequest(
                "\"indicators\" must be an array of strings or {\"type\", \"value\"} objects, not \(list.kindName)"
            )
        }
        guard !entries.isEmpty else {
            throw APIError.unprocessable("no_indicators", "\"indicators\" is empty; give 1 to \(maxIndicators) values")
        }
        guard entries.count <= maxIndicators else {
            throw APIError.unprocessable(
                "too_many_indicators",
                "\(entries.count) indicators in one request; at most \(maxIndicators): split the batch",
                fields: [("limit", .number(String(maxIndicators)))]
            )
        }

        var items: [(indicator: Indicator, input: String?)] = []
        var invalid: [(index: Int, input: JSONValue, reason: String)] = []
        for (index, entry) in entries.enumerated() {
            switch read(entry) {
            case .success(let item): items.append(item)
            case .failure(let problem): invalid.append((index, entry, problem.reason))
            }
        }
        guard invalid.isEmpty else {
            let listed = invalid.prefix(5).map { "indicators[\($0.index)] \(describe($0.input)): \($0.reason)" }
            let more = invalid.count > 5 ? "; and \(invalid.count - 5) more" : ""
            throw APIError.unprocessable(
                "invalid_indicators",
                "\(invalid.count) of \(entries.count) indicators are not valid: \(listed.joined(separator: "; "))\(more)."
                    + " Fix or remove them; nothing was looked up or charged",
                fields: [
                    (
                        "invalid",
                        .array(
                            invalid.map { problem in
                                .object([
                                    ("index", .number(String(problem.index))), ("input", problem.input),
                                    ("reason", .string(problem.reason)),
                                ])
                            }
                        )
                    )
                ]
            )
        }

        var sources: Set<String>?
        if let given = document["sources"], given != .null {
            guard case .array(let names) = given else {
                throw APIError.invalidRequest("\"sources\" must be an array of source names, not \(given.kindName)")
            }
            if let position = names.firstIndex(where: { if case .string = $0 { false } else { true } }) {
                throw APIError.invalidRequest(
                    "\"sources\" must hold source names as strings; sources[\(position)] is \(names[position].kindName)"
                )
            }
            let chosen = names.compactMap(\.scalarText).map { $0.lowercased() }
            guard !chosen.isEmpty else {
                throw APIError.unprocessable("no_sources", "\"sources\" is empty; leave it out to ask every source")
            }
            let unknown = chosen.filter { !EngineConfiguration.sourceNames.contains($0) }
            guard unknown.isEmpty else {
                throw APIError.unprocessable(
                    "unknown_sources",
                    "unknown source \(unknown.map { "\"\($0)\"" }.joined(separator: ", ")); the sources are "
                        + EngineConfiguration.sourceNames.joined(separator: ", "),
                    fields: [("unknown", .array(unknown.map(JSONValue.string)))]
                )
            }
            if let off = chosen.first(where: { offSources[$0] != nil }) {
                throw APIError.unprocessable(
                    "source_off",
                    "source \(off) is not configured on this server (\(offSources[off]!)); leave it out of \"sources\"",
                    fields: [("source", .string(off))]
                )
            }
            sources = Set(chosen)
        }

        var refresh = false
        if let given = document["refresh"], given != .null {
            guard case .bool(let value) = given else {
                throw APIError.invalidRequest("\"refresh\" must be true or false, not \(given.kindName)")
            }
            refresh = value
        }
        return LookupRequest(items: items, sources: sources, refresh: refresh)
    }

    static func read(_ entry: JSONValue) -> Result<(indicator: Indicator, input: String?), InvalidIndicator> {
        switch entry {
        case .string(let text):
            return Result { () throws(InvalidIndicator) in (try IndicatorParser.parse(text), text) }
        case .object:
            guard case .string(let typeName)? = entry["type"], case .string(let value)? = entry["value"] else {
                return .failure(
                    InvalidIndicator(input: describe(entry), reason: "an object needs \"type\" and \"value\" strings")
                )
            }
            guard let type = IndicatorType(rawValue: typeName.lowercased()) else {
                return .failure(
                    InvalidIndicator(
                        input: value,
                        reason: "unknown type \"\(typeName)\"; the types are "
                            + IndicatorType.allCases.map(\.rawValue).joined(separator: ", ")
                    )
                )
            }
            return Result { () throws(InvalidIndicator) in (try IndicatorParser.parse(value, as: type), value) }
        default:
            return .failure(
                InvalidIndicator(
                    input: describe(entry),
                    reason: "must be a string or an object with \"type\" and \"value\", not \(entry.kindName)"
                )
            )
        }
    }

    /// A short rendering of a JSON value for messages.
    static func describe(_ value: JSONValue) -> String {
        var writer = JSONWriter()
        writer.value(value)
        let text = writer.text
        return text.count > 80 ? String(text.prefix(77)) + "..." : text
    }
}

extension JSONValue {
    /// What kind of JSON value this is, for messages: "a number", "an array".
    var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}
