import Foundation

/// What a warninglist hit does to an indicator.
public enum WarninglistPolicy: String, Sendable, Codable, CaseIterable {
    /// The value is never looked up and is reported as suppressed (`warninglist:<name>`).
    case suppress
    /// The value is still looked up; the hit is reported next to it, so a real threat is never hidden.
    case annotate
    /// The list is loaded but not used.
    case ignore
}

/// A MISP warninglist (the `list.json` format of MISP/misp-warninglists), matched with MISP's semantics:
/// `string` exact, `substring` contained, `hostname` the name or any subdomain of it, `cidr` address
/// containment, `regex` a PHP-delimited pattern (`/…/i`).
public struct Warninglist: Sendable {
    public enum ListType: String, Sendable {
        case string, substring, hostname, cidr, regex
    }

    /// The list's identifier: `warninglist:<name>` in reasons, the key in policy files. For a list read from
    /// a feeds directory it is the file's name (MISP's folder name for `lists/NAME/list.json`).
    public var name: String { storage.name }
    /// MISP's own `name` field, a human-readable title.
    public var title: String { storage.title }
    public var description: String { storage.description }
    public var type: ListType { storage.type }
    public var category: String? { storage.category }
    public var policy: WarninglistPolicy
    /// The indicator types the list applies to, from its `matching_attributes`.
    public var appliesTo: Set<IndicatorType> { storage.appliesTo }
    public var entryCount: Int { storage.entryCount }
    /// Whether the list names services attackers use as infrastructure (dynamic DNS, IP echo, app hosting, …):
    /// a value on it is looked up whatever other list it is also on (`Suppressor.assess`).
    public var namesAbusedService: Bool { storage.namesAbusedService }

    /// MISP's lists of abused services, by name, and the compiled-in selection of them.
    public static let abusedServiceLists: Set<String> = [
        "dynamic-dns", "findip-host", "whats-my-ip", "lots-project", "link-in-bio", "public-ipfs-gateways",
        "url-shortener", "verdict-abused-services",
    ]

    /// Everything but the policy, behind one reference: lists are copied per lookup, and a copy then costs
    /// one retain instead of one per table.
    private final class Storage: Sendable {
        let name: String
        let title: String
        let description: String
        let type: ListType
        let category: String?
        let appliesTo: Set<IndicatorType>
        /// `appliesTo` as bits by `IndicatorType.ordinal`: asked for every indicator, so no hashing.
        let typeBits: UInt16
        let entryCount: Int
        let namesAbusedService: Bool
        let exact: SortedEntries
        let exactSignatures: SignatureFilter
        let substrings: [String]
        let ipv4Networks: [Int: Set<UInt32>]
        let ipv6Networks: [Int: Set<IPv6Address>]
        let patterns: [RegexBox]

        init(
            name: String,
            title: String,
            description: String,
            type: ListType,
            category: String?,
            appliesTo: Set<IndicatorType>,
            entryCount: Int,
            exact: SortedEntries,
            substrings: [String],
            ipv4Networks: [Int: Set<UInt32>],
            ipv6Networks: [Int: Set<IPv6Address>],
            patterns: [RegexBox]
        ) {
            self.name = name
            self.title = title
            self.description = description
            self.type = type
            self.category = category
            self.appliesTo = appliesTo
            self.typeBits = appliesTo.reduce(0) { $0 | 1 << UInt16($1.ordinal) }
            self.entryCount = entryCount
            self.namesAbusedService = Warninglist.abusedServiceLists.contains(name)
            self.exact = exact
            self.exactSignatures = SignatureFilter(exact)
            self.substrings = substrings
            self.ipv4Networks = ipv4Networks
            self.ipv6Networks = ipv6Networks
            self.patterns = patterns
        }
    }

    private let storage: Storage

    /// Reads a list from MISP's JSON.
    ///
    /// - Parameters:
    ///   - data: the `list.json` bytes.
    ///   - name: the identifier to use; MISP's `name` field when nil.
    ///   - policy: overrides the default policy (see `defaultPolicy(name:category:)`).
    public init(json data: some Collection<UInt8>, name: String? = nil, policy: WarninglistPolicy? = nil)
        throws(WarninglistError)
    {
        try self.init(json: data, name: name, policy: policy, sortedEntries: nil)
    }

    /// - Parameter sortedEntries: a `string` or `hostname` list's entries already lowered, trimmed, deduplicated and
    ///   sorted by their bytes, one a line (the compiled-in lists, prepared by scripts/generate-embedded-data.py so
    ///   that no process start parses them); the JSON's own `list` is then not read.
    init(
        json data: some Collection<UInt8>,
        name: String?,
        policy: WarninglistPolicy?,
        sortedEntries: String?
    ) throws(WarninglistError) {
        let document: JSONValue
        do {
            document = try JSONValue(parsing: data)
        } catch {
            throw WarninglistError("not valid JSON: \(error)")
        }
        let title = document["name"]?.scalarText ?? ""
        guard let name = name ?? (title.isEmpty ? nil : title) else { throw WarninglistError("no \"name\"") }
        guard case .string(let typeName)? = document["type"], let type = ListType(rawValue: typeName) else {
            throw WarninglistError(
                "list \(name): \"type\" must be one of string, substring, hostname, cidr, regex"
            )
        }
        let values: [JSONValue]
        if sortedEntries != nil {
            values = []
        } else {
            guard case .array(let listed)? = document["list"] else {
                throw WarninglistError("list \(name): no \"list\" array")
            }
            values = listed
        }
        let category = document["category"]?.scalarText
        self.policy = policy ?? Warninglist.defaultPolicy(name: name, category: category)
        var attributes: [String] = []
        if case .array(let items)? = document["matching_attributes"] {
            attributes = items.compactMap(\.scalarText)
        }
        // Byte-level trimming: Foundation's goes through NSString and made every process start slow.
        let entries = values.compactMap(\.scalarText).map { Self.trimming($0) { $0 == 0x20 || $0 == 0x09 } }.filter {
            !$0.isEmpty
        }

        var exact = SortedEntries([])
        var substrings: [String] = []
        var ipv4Networks: [Int: Set<UInt32>] = [:]
        var ipv6Networks: [Int: Set<IPv6Address>] = [:]
        var patterns: [RegexBox] = []
        var entryCount = entries.count
        switch type {
        case .string, .hostname:
            if let sortedEntries {
                exact = SortedEntries(sortedLines: sortedEntries)
                entryCount = exact.count
            } else {
                exact = SortedEntries(Self.exactEntries(entries, type: type))
            }
        case .substring:
            substrings = entries.map { $0.lowercased() }
        case .cidr:
            for entry in entries {
                switch IPNetwork(entry) {
                case .v4(let network, let prefix): ipv4Networks[prefix, default: []].insert(network.value)
                case .v6(let network, let prefix): ipv6Networks[prefix, default: []].insert(network)
                case nil: continue  // MISP skips entries it cannot read; so do we
                }
            }
        case .regex:
            patterns = entries.compactMap(RegexBox.init(mispPattern:))
        }
        self.storage = Storage(
            name: name,
            title: title,
            description: document["description"]?.scalarText ?? "",
            type: type,
            category: category,
            appliesTo: Warninglist.indicatorTypes(forMISPAttributes: attributes, listType: type),
            entryCount: entryCount,
            exact: exact,
            substrings: substrings,
            ipv4Networks: ipv4Networks,
            ipv6Networks: ipv6Networks,
            patterns: patterns
        )
    }

    /// A `string` or `hostname` list's entries as they are matched: lowered, and a hostname without its outer dots.
    static func exactEntries(_ entries: [String], type: ListType) -> [String] {
        type == .hostname
            ? entries.map { Self.trimming($0.lowercased()) { $0 == UInt8(ascii: ".") } }
            : entries.map { $0.lowercased() }
    }

    /// Lists that also hold infrastructure attackers rent or abuse (cloud, CDN and VPN ranges, dynamic DNS,
    /// URL shorteners, file hosting, mail providers) only annotate; plain false-positive lists suppress.
    public static func defaultPolicy(name: String, category: String?) -> WarninglistPolicy {
        let lowered = name.lowercased()
        if abusedServiceLists.contains(lowered) { return .annotate }
        let abusable = [
            "vpn", "cloud", "aws", "azure", "gcp", "dynamic", "ddns", "shortener", "hosting", "cdn", "akamai",
            "fastly", "ovh", "digitalocean", "disposable", "tor", "proxy", "webmail", "email", "paste", "file",
            "scanning", "second-level", "tld",
        ]
        if abusable.contains(where: lowered.contains) { return .annotate }
        return category == nil || category == "false-positive" ? .suppress : .annotate
    }

    static func indicatorTypes(forMISPAttributes attributes: [String], listType: ListType) -> Set<IndicatorType> {
        if attributes.isEmpty {
            return listType == .cidr ? [.ipv4, .ipv6] : Set(IndicatorType.allCases)
        }
        var types = Set<IndicatorType>()
        for attribute in attributes.map({ $0.lowercased() }) {
            switch attribute {
            case "ip-src", "ip-dst", "ip-src|port", "ip-dst|port", "domain|ip", "ip":
                types.formUnion([.ipv4, .ipv6])
                if attribute == "domain|ip" { types.insert(.domain) }
            case "domain", "hostname", "hostname|port": types.insert(.domain)
            case "url", "uri", "link": types.insert(.url)
            case "email", "email-src", "email-dst", "target-email", "email-reply-to", "whois-registrant-email":
                types.insert(.email)
            case "md5", "filename|md5", "authentihash": types.insert(.md5)
            case "sha1", "filename|sha1": types.insert(.sha1)
            case "sha256", "filename|sha256": types.insert(.sha256)
            default: continue
            }
        }
        return types
    }

    /// Whether the list holds `indicator`, by the list's own matching rule.
    ///
    /// A URL or an email is matched only on its whole value: a list of hosts never matches a URL on that
    /// host (a malware URL on a file-hosting site is a real indicator).
    public func matches(_ indicator: Indicator) -> Bool {
        guard applies(to: indicator.type) else { return false }
        switch storage.type {
        case .string:
            return containsExactly(indicator)
        case .hostname:
            guard indicator.type == .domain else { return containsExactly(indicator) }
            // The name, then each name it is under, up to its TLD.
            var name = indicator.value
            return name.withUTF8 { bytes in
                var start = 0
                while true {
                    let part = UnsafeBufferPointer(rebasing: bytes[start...])
                    if storage.exactSignatures.mayContain(part), storage.exact.contains(part) {
                        return true
                    }
                    guard let dot = part.firstIndex(of: UInt8(ascii: ".")) else { return false }
                    start += dot + 1
                }
            }
        case .substring:
            let value = indicator.value.lowercased()
            return storage.substrings.contains { value.contains($0) }
        case .cidr:
            switch indicator.type {
            case .ipv4:
                guard let address = IPv4Address(indicator.value) else { return false }
                return storage.ipv4Networks.contains { prefix, networks in
                    networks.contains(address.value & IPNetwork.mask32(prefix))
                }
            case .ipv6:
                guard let address = IPv6Address(indicator.value) else { return false }
                return storage.ipv6Networks.contains { prefix, networks in
                    let (high, low) = IPNetwork.mask128(prefix)
                    return networks.contains(IPv6Address(high: address.high & high, low: address.low & low))
                }
            default:
                return false
            }
        case .regex:
            return storage.patterns.contains { $0.matches(indicator.value) }
        }
    }

    /// `text` without the leading and trailing bytes `isDropped` picks (ASCII only, so slicing stays valid).
    static func trimming(_ text: String, _ isDropped: (UInt8) -> Bool) -> String {
        let utf8 = text.utf8
        guard let first = utf8.firstIndex(where: { !isDropped($0) }) else { return "" }
        let last = utf8.lastIndex(where: { !isDropped($0) })!
        if first == utf8.startIndex && last == utf8.index(before: utf8.endIndex) { return text }
        return String(text[first...last])
    }

    /// Whether the list applies to indicators of `type` at all.
    func applies(to type: IndicatorType) -> Bool {
        storage.typeBits & 1 << UInt16(type.ordinal) != 0
    }

    /// Whether `value`, lowered, is one of the exact entries; most values are told apart by their signature
    /// without hashing them.
    private func containsExactly(_ indicator: Indicator) -> Bool {
        var text = indicator.value
        // Entries are lowercase, and so are canonical values but for URL paths (and what callers build by hand,
        // such as an email's local part).
        guard indicator.type == .url || indicator.type == .email else {
            return text.withUTF8 { storage.exactSignatures.mayContain($0) } && storage.exact.contains(indicator.value)
        }
        // Lowering non-ASCII text can change its length, which the signature holds: such values skip the filter.
        let mayContain = text.withUTF8 { bytes in
            bytes.contains { $0 >= 0x80 } || storage.exactSignatures.mayContain(bytes, lowering: true)
        }
        guard mayContain else { return false }
        return storage.exact.contains(indicator.value) || storage.exact.contains(indicator.value.lowercased())
    }

    /// The default lists compiled into Verdict (Data/warninglists): well-known public DNS resolvers, the most
    /// popular domains and the EICAR test file's hashes, which suppress; URL shorteners and abused services,
    /// which annotate.
    public static let defaults: [Warninglist] = EmbeddedData.warninglists.map { list in
        // The embedded lists are checked by the tests; a broken one is a build defect.
        try! Warninglist(json: Array(list.metadata.utf8), name: nil, policy: nil, sortedEntries: list.entries)
    }
}

/// A set of strings kept as their bytes, sorted and one a line, and searched in place: the compiled-in lists are
/// used as they are embedded, with nothing to parse, hash or allocate per entry at start.
struct SortedEntries: Sendable {
    private let bytes: [UInt8]
    /// Where each entry starts, and one past the last entry's newline.
    private let starts: [Int32]

    /// - Parameter values: in any order, repeats allowed.
    init(_ values: [String]) {
        let sorted = Set(values).map { Array($0.utf8) }.filter { !$0.isEmpty }.sorted {
            $0.lexicographicallyPrecedes($1)
        }
        var bytes: [UInt8] = []
        for value in sorted {
            bytes += value
            bytes.append(0x0A)
        }
        self.init(lines: bytes)
    }

    /// - Parameter sortedLines: entries sorted by their bytes, each once, separated by newlines.
    init(sortedLines: String) {
        var bytes = Array(sortedLines.utf8)
        if let last = bytes.last, last != 0x0A { bytes.append(0x0A) }
        self.init(lines: bytes)
    }

    private init(lines bytes: [UInt8]) {
        var starts: [Int32] = [0]
        for (position, byte) in bytes.enumerated() where byte == 0x0A { starts.append(Int32(position + 1)) }
        self.bytes = bytes
        self.starts = starts
    }

    var count: Int { starts.count - 1 }

    /// Calls `body` with each entry's bytes (without its newline), in order.
    func forEach(_ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        bytes.withUnsafeBufferPointer { all in
            for index in 0..<count {
                body(UnsafeBufferPointer(rebasing: all[Int(starts[index])..<Int(starts[index + 1]) - 1]))
            }
        }
    }

    func contains(_ value: String) -> Bool {
        var value = value
        return value.withUTF8 { contains($0) }
    }

    /// Binary search by bytes.
    func contains(_ value: UnsafeBufferPointer<UInt8>) -> Bool {
        bytes.withUnsafeBufferPointer { all in
            var low = 0
            var high = count
            while low < high {
                let middle = (low + high) / 2
                let entry = UnsafeBufferPointer(rebasing: all[Int(starts[middle])..<Int(starts[middle + 1]) - 1])
                let common = min(entry.count, value.count)
                var order = common == 0 ? 0 : memcmp(entry.baseAddress!, value.baseAddress!, common)
                if order == 0 { order = entry.count < value.count ? -1 : entry.count > value.count ? 1 : 0 }
                if order == 0 { return true }
                if order < 0 { low = middle + 1 } else { high = middle }
            }
            return false
        }
    }
}

/// A one-probe Bloom filter over a set of lowercase strings, keyed by their length and three of their bytes: asked
/// for every indicator of every list, it answers "no" for almost all of them in a few instructions, where a
/// `Set` lookup hashes the whole value.
struct SignatureFilter: Sendable {
    private var bits: [UInt64]
    private static let bitCount = 1 << 16

    init(_ values: SortedEntries) {
        var bits = [UInt64](repeating: 0, count: values.count == 0 ? 0 : SignatureFilter.bitCount / 64)
        values.forEach { entry in
            let signature = SignatureFilter.signature(entry, lowering: false)
            bits[signature >> 6] |= 1 << UInt64(signature & 63)
        }
        self.bits = bits
    }

    /// False when no value of the set has `bytes`' signature (`lowering` ASCII letters first).
    func mayContain(_ bytes: UnsafeBufferPointer<UInt8>, lowering: Bool = false) -> Bool {
        guard !bits.isEmpty else { return false }
        let signature = SignatureFilter.signature(bytes, lowering: lowering)
        return bits[signature >> 6] & 1 << UInt64(signature & 63) != 0
    }

    private static func signature(_ bytes: UnsafeBufferPointer<UInt8>, lowering: Bool) -> Int {
        guard let first = bytes.first, let last = bytes.last else { return 0 }
        func lowered(_ byte: UInt8) -> Int {
            Int(lowering ? asciiLowercased(byte) : byte)
        }
        let middle = bytes[bytes.count / 2]
        var mixed =
            bytes.count &* 0x9E37 ^ lowered(first) &* 0x85EB ^ lowered(last) &* 0xC2B2 ^ lowered(middle) &* 0x27D4
        mixed ^= mixed >> 16
        return mixed & (bitCount - 1)
    }
}

/// A warninglist that could not be read, and why.
public struct WarninglistError: Error, Sendable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// A compiled regular expression that is safe to share: `NSRegularExpression` is immutable once built.
struct RegexBox: @unchecked Sendable {
    let expression: NSRegularExpression

    /// Reads a PHP/PCRE pattern with delimiters and flags (`/^evil\.com$/i`), as MISP stores them.
    init?(mispPattern: String) {
        var pattern = mispPattern
        var options: NSRegularExpression.Options = []
        if let first = pattern.first, !first.isLetter, !first.isNumber, first != "\\",
            let last = pattern.dropFirst().lastIndex(of: first)
        {
            let flags = pattern[pattern.index(after: last)...]
            pattern = String(pattern[pattern.index(after: pattern.startIndex)..<last])
            for flag in flags {
                switch flag {
                case "i": options.insert(.caseInsensitive)
                case "m": options.insert(.anchorsMatchLines)
                case "s": options.insert(.dotMatchesLineSeparators)
                case "x": options.insert(.allowCommentsAndWhitespace)
                default: continue
                }
            }
        }
        guard let expression = try? NSRegularExpression(pattern: pattern, options: options) else { return nil }
        self.expression = expression
    }

    func matches(_ value: String) -> Bool {
        expression.firstMatch(in: value, range: NSRange(value.startIndex..., in: value)) != nil
    }
}
