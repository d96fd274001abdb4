import VerdictCore

/// The `<options>` JSON of the `<integration>` block (integratord writes it to a file, argv[5]):
///
///     {"sources": ["abuseipdb", "virustotal"], "min_verdict": "suspicious", "timeout": 5,
///      "skip_fields": ["full_log", "data.dstip"], "max_per_type": 20, "api": "dfir"}
///
/// `min_verdict` is the least verdict written back (`malicious`, `suspicious`, `unknown`, `harmless`, or `all`);
/// `skip_fields` drops indicators found in these dotted fields or under them.
public struct IntegrationOptions: Sendable, Equatable {
    public var sources: Set<String>?
    /// Events are written for verdicts at least this bad; nil writes every looked-up indicator.
    public var minimumVerdict: Verdict? = .suspicious
    public var timeoutSeconds: Double?
    public var skipFields: [String] = []
    public var maxPerType = 20
    /// What `<hook_url>` speaks (`"api": "verdict"` or `"dfir"`); nil: told by the key.
    public var api: ClientAPI?

    public init() {}

    static let members = ["sources", "min_verdict", "timeout", "skip_fields", "max_per_type", "api"]

    /// The options as `init(json:file:)` reads them, to keep with an alert in the retry queue.
    public var json: [UInt8] {
        var fields: [(key: String, value: JSONValue)] = [
            ("min_verdict", .string(minimumVerdict?.rawValue ?? "all")),
            ("skip_fields", .array(skipFields.map(JSONValue.string))),
            ("max_per_type", .number(String(maxPerType))),
        ]
        if let sources { fields.append(("sources", .array(sources.sorted().map(JSONValue.string)))) }
        if let timeoutSeconds { fields.append(("timeout", .number(String(timeoutSeconds)))) }
        if let api { fields.append(("api", .string(api.rawValue))) }
        var writer = JSONWriter()
        writer.value(.object(fields))
        return writer.bytes
    }

    public init(json bytes: [UInt8], file: String) throws(IntegrationFailure) {
        func bad(_ message: String) -> IntegrationFailure {
            IntegrationFailure(
                .badSettings,
                "options file \(file): \(message); fix <options> in the <integration> block"
            )
        }
        let trimmed = bytes.filter { $0 != 0x0A && $0 != 0x0D && $0 != 0x20 && $0 != 0x09 }
        guard !trimmed.isEmpty else { return }
        let document: JSONValue
        do {
            document = try JSONValue(parsing: bytes)
        } catch {
            throw bad("not JSON (\(error.description))")
        }
        guard case .object(let fields) = document else { throw bad("not a JSON object") }
        if let unknown = fields.first(where: { !Self.members.contains($0.key) }) {
            throw bad("unknown option \"\(unknown.key)\"; the options are " + Self.members.joined(separator: ", "))
        }
        if let given = document["sources"] {
            let names: [String]
            switch given {
            case .string(let text): names = text.split(separator: ",").map { String($0.filter { $0 != " " }) }
            case .array(let items): names = items.compactMap(\.scalarText)
            default: throw bad("\"sources\" must be a list of source names")
            }
            let lowered = names.map { $0.lowercased() }.filter { !$0.isEmpty }
            guard !lowered.isEmpty else { throw bad("\"sources\" is empty; leave it out to ask every source") }
            sources = Set(lowered)
        }
        if let given = document["min_verdict"] {
            guard case .string(let text) = given else { throw bad("\"min_verdict\" must be a string") }
            switch text.lowercased() {
            case "all": minimumVerdict = nil
            case let name:
                guard let verdict = Verdict(rawValue: name), verdict != .suppressed else {
                    throw bad("\"min_verdict\": \"\(text)\" is not malicious, suspicious, unknown, harmless or all")
                }
                minimumVerdict = verdict
            }
        }
        if let given = document["timeout"] {
            guard let seconds = given.scalarText.flatMap(Double.init), seconds > 0, seconds <= 3600 else {
                throw bad("\"timeout\" must be a number of seconds")
            }
            timeoutSeconds = seconds
        }
        if let given = document["skip_fields"] {
            guard case .array(let items) = given else { throw bad("\"skip_fields\" must be a list of field names") }
            skipFields = items.compactMap(\.scalarText)
        }
        if let given = document["api"] {
            guard let name = given.scalarText, let chosen = ClientAPI(rawValue: name.lowercased()) else {
                throw bad("\"api\" must be \"verdict\" or \"dfir\" (the hosted DFIR platform)")
            }
            api = chosen
        }
        if let given = document["max_per_type"] {
            guard let count = given.scalarText.flatMap({ Int($0) }), (1...1000).contains(count) else {
                throw bad("\"max_per_type\" must be a whole number from 1 to 1000")
            }
            maxPerType = count
        }
    }

    /// Whether an indicator found in `field` is left out.
    func skips(field: String?) -> Bool {
        guard let field else { return false }
        return skipFields.contains { field == $0 || field.hasPrefix($0 + ".") }
    }

    /// Whether a verdict is written back: malicious > suspicious > unknown > harmless.
    func emits(_ verdict: Verdict) -> Bool {
        guard verdict != .suppressed else { return false }
        guard let minimumVerdict else { return true }
        return Self.badness(verdict) >= Self.badness(minimumVerdict)
    }

    static func badness(_ verdict: Verdict) -> Int {
        switch verdict {
        case .malicious: 3
        case .suspicious: 2
        case .unknown: 1
        case .harmless, .suppressed: 0
        }
    }
}
