import Foundation
import VerdictCore

/// What a feed entry is keyed by in the index: an indicator's canonical value, or a CIDR block.
public enum FeedEntryKind: String, Sendable, CaseIterable {
    case ipv4, ipv6, network, domain, url, email, md5, sha1, sha256

    /// Every indicator type is a kind of the same name.
    init(_ type: IndicatorType) {
        self.init(rawValue: type.rawValue)!
    }
}

/// One value a feed lists, with what the publisher says about it.
public struct FeedEntry: Sendable, Equatable {
    /// The canonical indicator value (`IndicatorParser`), or `a.b.c.0/24` for a network.
    public var value: String
    public var kind: FeedEntryKind
    /// The publisher's words for it: malware family, threat type, tags, list ids.
    public var tags: [String]
    /// The publisher's page about it.
    public var link: String?
    /// Seconds since 1970, as the publisher dates it.
    public var firstSeen: Double?
    public var lastSeen: Double?

    public init(
        value: String,
        kind: FeedEntryKind,
        tags: [String] = [],
        link: String? = nil,
        firstSeen: Double? = nil,
        lastSeen: Double? = nil
    ) {
        self.value = value
        self.kind = kind
        self.tags = tags
        self.link = link
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
    }

    /// The entry for a value as feeds write it (an address, a CIDR block, a domain, a URL, a hash); nil when
    /// it is none of those.
    public init?(parsing text: some StringProtocol, tags: [String] = [], link: String? = nil) {
        let text = String(text)
        if text.contains("/"), !text.contains("://"), let network = IPNetwork(text) {
            switch network {
            case .v4(let address, 32): self.init(value: address.description, kind: .ipv4, tags: tags, link: link)
            case .v6(let address, 128): self.init(value: address.description, kind: .ipv6, tags: tags, link: link)
            default: self.init(value: network.description, kind: .network, tags: tags, link: link)
            }
            return
        }
        guard let indicator = try? IndicatorParser.parse(text) else { return nil }
        self.init(value: indicator.value, kind: FeedEntryKind(indicator.type), tags: tags, link: link)
    }
}

/// A feed's body read into entries, with the lines that held nothing Verdict can index.
public struct ParsedFeed: Sendable {
    public var entries: [FeedEntry] = []
    /// Data lines (or records) that were not a value Verdict can look up.
    public var skipped = 0
    /// The first few of them, for the report: `line 17: "…"`.
    public var skippedExamples: [String] = []

    public init() {}

    mutating func skip(_ where: String, _ text: some StringProtocol) {
        skipped += 1
        if skippedExamples.count < 3 { skippedExamples.append("\(`where`): \"\(text.prefix(80))\"") }
    }

    mutating func add(
        _ text: some StringProtocol,
        at place: @autoclosure () -> String,
        _ build: (inout FeedEntry) -> Void
    ) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { return }
        guard var entry = FeedEntry(parsing: trimmed) else {
            skip(place(), trimmed)
            return
        }
        build(&entry)
        entries.append(entry)
    }
}

/// A feed body that cannot be used, and why.
public struct FeedFormatError: Error, Sendable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// The bulk feed formats, as each publisher serves them (design §9).
public enum FeedFormat: String, Sendable, CaseIterable {
    case urlhausCSV = "urlhaus-csv"
    case threatfoxJSON = "threatfox-json"
    case threatfoxCSV = "threatfox-csv"
    case feodoCSV = "feodo-csv"
    case feodoJSON = "feodo-json"
    case malwarebazaarCSV = "malwarebazaar-csv"
    case spamhausDrop = "spamhaus-drop"
    case spamhausDropJSON = "spamhaus-drop-json"
    case mispFeed = "misp-feed"
    case plain

    public static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }

    /// Reads one downloaded body (for `misp-feed`, one event file).
    ///
    /// - Throws: `FeedFormatError` when the body is not this format at all (not JSON, HTML instead of CSV,
    ///   nothing but lines that are no value): a body like that never replaces the last good copy.
    public func parse(_ body: [UInt8]) throws(FeedFormatError) -> ParsedFeed {
        var parsed: ParsedFeed
        switch self {
        case .urlhausCSV, .threatfoxCSV, .feodoCSV, .malwarebazaarCSV:
            parsed = CSVFeed(format: self).parse(body)
        case .plain, .spamhausDrop:
            parsed = Self.parseLines(body)
        case .spamhausDropJSON:
            parsed = try Self.parseSpamhausJSON(body)
        case .threatfoxJSON:
            parsed = try Self.parseThreatFoxJSON(body)
        case .feodoJSON:
            parsed = try Self.parseFeodoJSON(body)
        case .mispFeed:
            parsed = try MISPFeedEvent.parse(body)
        }
        if parsed.entries.isEmpty && parsed.skipped > 0 {
            throw FeedFormatError(
                "nothing in it is a \(rawValue) entry (\(parsed.skipped) lines or records, none an address, network,"
                    + " domain, URL or hash: \(parsed.skippedExamples.joined(separator: "; "))); check the feed's url"
                    + " and format"
            )
        }
        return parsed
    }

    /// One value a line; `#` and `;` start comments (whole-line or after the value, as Spamhaus writes
    /// `CIDR ; SBL123`, whose list id becomes the entry's tag).
    static func parseLines(_ body: [UInt8]) -> ParsedFeed {
        var parsed = ParsedFeed()
        var number = 0
        for rawLine in body.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            number += 1
            var line = Substring(decoding: rawLine, as: UTF8.self)
            if line.hasSuffix("\r") { line = line.dropLast() }
            var comment: Substring = ""
            if let mark = line.firstIndex(where: { $0 == "#" || $0 == ";" }) {
                comment = line[line.index(after: mark)...]
                line = line[..<mark]
            }
            let tag = comment.trimmingCharacters(in: .whitespaces)
            parsed.add(line, at: "line \(number)") { entry in
                if tag.hasPrefix("SBL") { entry.tags = [tag] }
            }
        }
        return parsed
    }

    static func json(_ body: [UInt8], _ name: String) throws(FeedFormatError) -> JSONValue {
        do {
            return try JSONValue(parsing: body)
        } catch {
            throw FeedFormatError("the body is not valid JSON (\(error)); was the download cut short? (\(name))")
        }
    }

    /// `{"<id>": [{"ioc_value": …, "ioc_type": "ip:port", "threat_type": …, "malware_printable": …}], …}`.
    static func parseThreatFoxJSON(_ body: [UInt8]) throws(FeedFormatError) -> ParsedFeed {
        guard case .object(let records) = try json(body, "threatfox-json") else {
            throw FeedFormatError("a ThreatFox JSON export is one object keyed by IOC id; this is not one")
        }
        var parsed = ParsedFeed()
        for record in records {
            guard case .array(let iocs) = record.value else {
                parsed.skip("record \(record.key)", "not a list")
                continue
            }
            for ioc in iocs {
                guard let raw = ioc["ioc_value"]?.scalarText else {
                    parsed.skip("record \(record.key)", "no ioc_value")
                    continue
                }
                let value = ThreatFox.valueWithoutPort(raw, type: ioc["ioc_type"]?.scalarText)
                parsed.add(value, at: "record \(record.key)") { entry in
                    entry.tags = ThreatFox.tags(
                        malware: ioc["malware_printable"]?.scalarText,
                        threat: ioc["threat_type"]?.scalarText,
                        tags: ioc["tags"]?.scalarText
                    )
                    entry.link = "https://threatfox.abuse.ch/ioc/\(record.key)/"
                    entry.firstSeen = FeedTime.parse(ioc["first_seen_utc"]?.scalarText)
                    entry.lastSeen = FeedTime.parse(ioc["last_seen_utc"]?.scalarText)
                }
            }
        }
        return parsed
    }

    /// `[{"ip_address": …, "port": 443, "status": "online", "first_seen": …, "last_online": …, "malware": …}]`.
    static func parseFeodoJSON(_ body: [UInt8]) throws(FeedFormatError) -> ParsedFeed {
        guard case .array(let records) = try json(body, "feodo-json") else {
            throw FeedFormatError("a Feodo Tracker JSON blocklist is one array of objects; this is not one")
        }
        var parsed = ParsedFeed()
        for (number, record) in records.enumerated() {
            guard let value = record["ip_address"]?.scalarText else {
                parsed.skip("record \(number + 1)", "no ip_address")
                continue
            }
            parsed.add(value, at: "record \(number + 1)") { entry in
                entry.tags = [record["malware"]?.scalarText, record["status"]?.scalarText].compactMap { $0 }
                    .filter { !$0.isEmpty }
                entry.link = "https://feodotracker.abuse.ch/browse/host/\(entry.value)/"
                entry.firstSeen = FeedTime.parse(record["first_seen"]?.scalarText)
                entry.lastSeen = FeedTime.parse(record["last_online"]?.scalarText)
            }
        }
        return parsed
    }

    /// One JSON object a line: `{"cidr":"1.2.3.0/24","sblid":"SBL1","rir":"…"}`, then a metadata line.
    static func parseSpamhausJSON(_ body: [UInt8]) throws(FeedFormatError) -> ParsedFeed {
        var parsed = ParsedFeed()
        var number = 0
        for line in body.split(separator: UInt8(ascii: "\n")) {
            number += 1
            guard line.contains(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\r") }) else { continue }
            let record: JSONValue
            do {
                record = try JSONValue(parsing: line)
            } catch {
                throw FeedFormatError("line \(number) is not a JSON object (\(error)); was the download cut short?")
            }
            // The metadata line, and the ASN-DROP list's records, name no network to index.
            if record["type"]?.scalarText == "metadata" || record["asn"] != nil { continue }
            guard let cidr = record["cidr"]?.scalarText else {
                parsed.skip("line \(number)", String(decoding: line, as: UTF8.self))
                continue
            }
            parsed.add(cidr, at: "line \(number)") { entry in
                entry.tags = [record["sblid"]?.scalarText].compactMap { $0 }
            }
        }
        return parsed
    }
}

/// The abuse.ch CSV exports: quoted fields, a header line (commented in URLhaus, ThreatFox and MalwareBazaar,
/// plain in Feodo Tracker), `#` banners and footers. Columns are found by the header's names, so a publisher
/// adding one (ThreatFox's `is_compromised`) moves nothing.
struct CSVFeed {
    let format: FeedFormat

    /// The value columns and the default header, for exports whose header is missing.
    var defaultHeader: [String] {
        switch format {
        case .urlhausCSV:
            ["id", "dateadded", "url", "url_status", "last_online", "threat", "tags", "urlhaus_link", "reporter"]
        case .threatfoxCSV:
            [
                "first_seen_utc", "ioc_id", "ioc_value", "ioc_type", "threat_type", "fk_malware", "malware_alias",
                "malware_printable", "last_seen_utc", "confidence_level", "reference", "tags", "anonymous", "reporter",
            ]
        case .feodoCSV: ["first_seen_utc", "dst_ip", "dst_port", "c2_status", "last_online", "malware"]
        default:
            [
                "first_seen_utc", "sha256_hash", "md5_hash", "sha1_hash", "reporter", "file_name", "file_type_guess",
                "mime_type", "signature", "clamav", "vtpercent", "imphash", "ssdeep", "tlsh",
            ]
        }
    }

    /// The column a header must have, which tells a header from a banner line.
    var keyColumn: String {
        switch format {
        case .urlhausCSV: "url"
        case .threatfoxCSV: "ioc_value"
        case .feodoCSV: "dst_ip"
        default: "sha256_hash"
        }
    }

    func parse(_ body: [UInt8]) -> ParsedFeed {
        var parsed = ParsedFeed()
        var columns: [String: Int] = [:]
        func use(_ header: [String]) {
            columns = [:]
            for (position, name) in header.enumerated() { columns[name.lowercased()] = position }
        }
        use(defaultHeader)
        var number = 0
        for rawLine in body.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            number += 1
            var line = Substring(decoding: rawLine, as: UTF8.self)
            if line.hasSuffix("\r") { line = line.dropLast() }
            var isComment = false
            if line.first == "#" {
                line = line.dropFirst()
                isComment = true
            }
            let fields = CSVLine.fields(line)
            if fields.contains(where: { $0.lowercased() == keyColumn }) {
                use(fields)
                continue
            }
            guard !isComment, !line.allSatisfy(\.isWhitespace) else { continue }
            func field(_ name: String) -> String? {
                guard let position = columns[name], position < fields.count else { return nil }
                let value = fields[position]
                return value.isEmpty || value == "None" || value == "n/a" ? nil : value
            }
            let place = "line \(number)"
            switch format {
            case .urlhausCSV:
                parsed.add(field("url") ?? "", at: place) { entry in
                    entry.tags = ([field("threat")] + (field("tags")?.split(separator: ",").map(String.init) ?? []))
                        .compactMap { $0 }
                    entry.link = field("urlhaus_link")
                    entry.firstSeen = FeedTime.parse(field("dateadded"))
                    entry.lastSeen = FeedTime.parse(field("last_online"))
                }
                if field("url") == nil { parsed.skip(place, line) }
            case .threatfoxCSV:
                let value = ThreatFox.valueWithoutPort(field("ioc_value") ?? "", type: field("ioc_type"))
                if value.isEmpty { parsed.skip(place, line) }
                parsed.add(value, at: place) { entry in
                    entry.tags = ThreatFox.tags(
                        malware: field("malware_printable"),
                        threat: field("threat_type"),
                        tags: field("tags")
                    )
                    entry.link = field("ioc_id").map { "https://threatfox.abuse.ch/ioc/\($0)/" }
                    entry.firstSeen = FeedTime.parse(field("first_seen_utc"))
                    entry.lastSeen = FeedTime.parse(field("last_seen_utc"))
                }
            case .feodoCSV:
                if field("dst_ip") == nil { parsed.skip(place, line) }
                parsed.add(field("dst_ip") ?? "", at: place) { entry in
                    entry.tags = [field("malware"), field("c2_status")].compactMap { $0 }
                    entry.link = "https://feodotracker.abuse.ch/browse/host/\(entry.value)/"
                    entry.firstSeen = FeedTime.parse(field("first_seen_utc"))
                    entry.lastSeen = FeedTime.parse(field("last_online"))
                }
            default:
                // MalwareBazaar: each of the sample's three hashes finds it.
                guard let sha256 = field("sha256_hash") else {
                    parsed.skip(place, line)
                    continue
                }
                let tags = [field("signature"), field("file_type_guess")].compactMap { $0 }
                for hash in [sha256, field("md5_hash"), field("sha1_hash")].compactMap({ $0 }) {
                    parsed.add(hash, at: place) { entry in
                        entry.tags = tags
                        entry.link = "https://bazaar.abuse.ch/sample/\(sha256.lowercased())/"
                        entry.firstSeen = FeedTime.parse(field("first_seen_utc"))
                    }
                }
            }
        }
        return parsed
    }
}

/// Splits one CSV line: fields may be quoted (`""` is a quote inside), and separated by `,` or `", "`.
enum CSVLine {
    static func fields(_ line: Substring) -> [String] {
        var fields: [String] = []
        var current = ""
        var quoted = false
        var index = line.startIndex
        var atFieldStart = true
        while index < line.endIndex {
            let character = line[index]
            if quoted {
                if character == "\"" {
                    let next = line.index(after: index)
                    if next < line.endIndex, line[next] == "\"" {
                        current.append("\"")
                        index = next
                    } else {
                        quoted = false
                    }
                } else {
                    current.append(character)
                }
            } else if character == "," {
                fields.append(current.trimmingCharacters(in: .whitespaces))
                current = ""
                atFieldStart = true
                index = line.index(after: index)
                continue
            } else if character == "\"" && atFieldStart {
                current = ""
                quoted = true
                atFieldStart = false
            } else {
                current.append(character)
                if !character.isWhitespace { atFieldStart = false }
            }
            index = line.index(after: index)
        }
        fields.append(current.trimmingCharacters(in: .whitespaces))
        return fields
    }
}

enum ThreatFox {
    /// `1.2.3.4:443` (type `ip:port`) is the address; other values are themselves.
    static func valueWithoutPort(_ value: String, type: String?) -> String {
        guard type == "ip:port", let colon = value.lastIndex(of: ":") else { return value }
        var host = value[..<colon]
        if host.hasPrefix("[") && host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        return String(host)
    }

    static func tags(malware: String?, threat: String?, tags: String?) -> [String] {
        var result = [malware, threat].compactMap { $0 }.filter { !$0.isEmpty && $0 != "None" }
        for tag in (tags ?? "").split(separator: ",") {
            let trimmed = tag.trimmingCharacters(in: .whitespaces)
            if !trimmed.isEmpty && trimmed != "None" && !result.contains(trimmed) { result.append(trimmed) }
        }
        return result
    }
}

/// The publishers' `YYYY-MM-DD HH:MM:SS` (UTC, no zone), `YYYY-MM-DD`, or seconds since 1970.
enum FeedTime {
    static func parse(_ text: String?) -> Double? {
        guard let text, !text.isEmpty else { return nil }
        if let seconds = Double(text), seconds > 100_000_000 { return seconds }
        let digits = text.utf8.map { Int($0) - 48 }
        func number(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= digits.count else { return nil }
            var value = 0
            for position in range {
                guard (0...9).contains(digits[position]) else { return nil }
                value = value * 10 + digits[position]
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), (1...12).contains(month)
        else { return nil }
        let hour = number(11..<13) ?? 0
        let minute = number(14..<16) ?? 0
        let second = number(17..<19) ?? 0
        // Days from 1970-01-01 to the date (Howard Hinnant's days_from_civil).
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        return Double(days * 86_400 + hour * 3_600 + minute * 60 + second)
    }
}

/// MISP's feed format: `manifest.json` maps event uuids to their summaries; each `<uuid>.json` is
/// `{"Event": {…, "Tag": […], "Attribute": [{"type", "value", "to_ids", "Tag", "timestamp"}], "Object": […]}}`.
/// Only attributes marked for detection (`to_ids`) are indexed, as MISP's own exports do.
public enum MISPFeedEvent {
    /// The event uuids a manifest lists.
    public static func eventIDs(inManifest body: [UInt8]) throws(FeedFormatError) -> [String] {
        guard case .object(let events) = try FeedFormat.json(body, "misp-feed manifest.json") else {
            throw FeedFormatError("manifest.json is not a JSON object keyed by event uuid; is `url` the feed's folder?")
        }
        let ids = events.map(\.key)
        for id in ids where id.isEmpty || !id.allSatisfy({ $0.isHexDigit || $0 == "-" }) {
            throw FeedFormatError("manifest.json names \"\(id.prefix(60))\", which is not an event uuid")
        }
        return ids
    }

    /// The attribute types whose value (or, for `a|b` pairs, each part) is an indicator.
    static let indexedTypes: Set<String> = [
        "ip-src", "ip-dst", "domain", "hostname", "url", "uri", "link", "md5", "sha1", "sha256", "email-src",
        "email-dst", "ip-dst|port", "ip-src|port", "domain|ip", "hostname|port", "filename|md5", "filename|sha1",
        "filename|sha256",
    ]

    static func parse(_ body: [UInt8]) throws(FeedFormatError) -> ParsedFeed {
        let document = try FeedFormat.json(body, "misp-feed event")
        guard let event = document["Event"] else {
            throw FeedFormatError("a MISP feed event file is {\"Event\": {…}}; this one has no Event")
        }
        let eventTags = tagNames(event["Tag"])
        let uuid = event["uuid"]?.scalarText
        let info = event["info"]?.scalarText
        var attributes: [JSONValue] = []
        if case .array(let list) = event["Attribute"] { attributes += list }
        if case .array(let objects) = event["Object"] {
            for object in objects {
                if case .array(let list) = object["Attribute"] { attributes += list }
            }
        }
        var parsed = ParsedFeed()
        for attribute in attributes {
            guard let type = attribute["type"]?.scalarText, indexedTypes.contains(type),
                let value = attribute["value"]?.scalarText
            else { continue }
            let toIDs = attribute["to_ids"]?.scalarText
            guard toIDs == "true" || toIDs == "1" else { continue }
            var parts = value.split(separator: "|").map(String.init)
            if type.hasPrefix("filename|") { parts = Array(parts.dropFirst()) }
            if type.hasSuffix("|port") { parts = Array(parts.prefix(1)) }
            for part in parts {
                parsed.add(part, at: "attribute \(attribute["uuid"]?.scalarText ?? "?")") { entry in
                    entry.tags = (info.map { [$0] } ?? []) + eventTags + tagNames(attribute["Tag"])
                    entry.link = uuid.map { "misp-event:\($0)" }
                    entry.firstSeen = FeedTime.parse(attribute["first_seen"]?.scalarText)
                    entry.lastSeen = FeedTime.parse(attribute["timestamp"]?.scalarText)
                }
            }
        }
        return parsed
    }

    static func tagNames(_ tags: JSONValue?) -> [String] {
        guard case .array(let list) = tags else { return [] }
        return list.compactMap { $0["name"]?.scalarText }
    }
}
