import Foundation

/// What to do with one indicator before any source sees it.
public enum Assessment: Sendable, Equatable {
    /// Look it up; `warninglists` names the annotate-policy lists it is on.
    case lookUp(warninglists: [String])
    /// Never look it up, for this reason (`private`, `reserved:documentation`, `warninglist:<name>`, …).
    case suppressed(reason: String)
}

/// Decides which indicators are never sent to a threat-intel source, and says why.
///
/// In order: IANA special-purpose addresses, empty-file and placeholder hashes, special-use domain names,
/// the user's internal suffixes, the user's allow-list, then warninglists. URLs and emails inherit the
/// first four from their host; a warninglisted host never suppresses them.
public struct Suppressor: Sendable {
    public var warninglists: [Warninglist]
    public var allowList: AllowList
    /// Domain suffixes that name the user's own networks (`corp.example.com`, `lan`).
    public var internalSuffixes: [String]

    public init(
        warninglists: [Warninglist] = Warninglist.defaults,
        allowList: AllowList = AllowList(),
        internalSuffixes: [String] = []
    ) {
        self.warninglists = warninglists
        self.allowList = allowList
        self.internalSuffixes = internalSuffixes.map { $0.lowercased().trimmingPrefix(".").description }
    }

    public func assess(_ indicator: Indicator) -> Assessment {
        assess(indicator, host: indicator.host)
    }

    /// `assess(_:)` of a URL or an email whose host the caller has parsed already (nil for other types).
    func assess(_ indicator: Indicator, host: Indicator?) -> Assessment {
        if let reason = hardReason(indicator, host: host) { return .suppressed(reason: reason) }
        if allowList.contains(indicator) { return .suppressed(reason: "allowlist") }
        var annotations: [String] = []
        var suppressingList: String?
        var namesAbusedService = false
        for index in warninglists.indices {
            // Read in place: copying a list per indicator would retain and release all its tables.
            let policy = warninglists[index].policy
            guard policy != .ignore, warninglists[index].matches(indicator) else { continue }
            annotations.append(warninglists[index].name)
            if policy == .suppress, suppressingList == nil { suppressingList = warninglists[index].name }
            if policy == .annotate, warninglists[index].namesAbusedService { namesAbusedService = true }
        }
        // A dynamic-DNS parent or a hosting platform on a top-domain list is still infrastructure malware
        // contacts: the abused-service list wins, and every list it is on is reported next to it.
        if let suppressingList, !namesAbusedService { return .suppressed(reason: "warninglist:\(suppressingList)") }
        return .lookUp(warninglists: annotations)
    }

    /// The longest URL and email looked up, in bytes.
    public static func maxLength(of type: IndicatorType) -> Int? {
        switch type {
        case .url: 2048
        case .email: 254
        default: nil
        }
    }

    /// Reasons that hold whatever the settings say, plus the user's internal suffixes.
    func hardReason(_ indicator: Indicator) -> String? {
        hardReason(indicator, host: indicator.host)
    }

    /// `hardReason(_:)` of a URL or an email whose host the caller has parsed already (nil for other types).
    func hardReason(_ indicator: Indicator, host: Indicator?) -> String? {
        switch indicator.type {
        case .ipv4:
            return IPv4Address(indicator.value).flatMap(SpecialPurposeAddresses.reason(for:))
        case .ipv6:
            return IPv6Address(indicator.value).flatMap(SpecialPurposeAddresses.reason(for:))
        case .domain:
            if let suffix = DomainName.specialUseSuffix(of: indicator.value) { return "special-name:\(suffix)" }
            if let suffix = internalSuffixes.first(where: { DomainName.isSubdomain(indicator.value, of: $0) }) {
                return "internal-suffix:\(suffix)"
            }
            return nil
        case .url, .email:
            // Providers refuse longer values (VirusTotal and URLhaus at about 2 KB, HTTP 414): asking would
            // only spend quota and count as a failure of the source.
            if indicator.value.utf8.count > Self.maxLength(of: indicator.type)! { return "too-long" }
            guard let host else { return nil }
            if allowList.contains(host) { return "allowlist" }
            return hardReason(host, host: nil)
        case .md5, .sha1, .sha256:
            var value = indicator.value
            let mayBeEmptyFile = value.withUTF8 { Suppressor.emptyFileSignatures.mayContain($0) }
            if mayBeEmptyFile, Suppressor.emptyFileHashes.contains(indicator.value) { return "empty-file" }
            // Bytes, not characters: hashes are ASCII, and grapheme breaking is the slowest way to compare them.
            let digits = indicator.value.utf8
            if let first = digits.first, digits.allSatisfy({ $0 == first }) { return "placeholder" }
            return nil
        }
    }

    /// `emptyFileHashes` for a check without hashing: every hash found is asked.
    static let emptyFileSignatures = SignatureFilter(SortedEntries(Array(emptyFileHashes)))

    /// The hashes of a zero-byte file: every scanner and FIM module reports them, and they say nothing.
    static let emptyFileHashes: Set<String> = [
        "d41d8cd98f00b204e9800998ecf8427e",
        "da39a3ee5e6b4b0d3255bfef95601890afd80709",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ]
}

extension Indicator {
    /// A URL's authority, as byte offsets into its UTF-8: where it starts (after `://`), where the host starts
    /// (after any `user:pass@`), and where it ends (at `/`, `?`, `#` or the end); nil when not a URL.
    private func urlAuthority(_ bytes: UnsafeBufferPointer<UInt8>) -> (start: Int, host: Int, end: Int)? {
        guard type == .url, let colon = bytes.firstIndex(of: UInt8(ascii: ":")),
            bytes[colon...].starts(with: "://".utf8)
        else { return nil }
        let start = colon + 3
        var host = start
        var end = start
        while end < bytes.count, bytes[end] != UInt8(ascii: "/"), bytes[end] != UInt8(ascii: "?"),
            bytes[end] != UInt8(ascii: "#")
        {
            if bytes[end] == UInt8(ascii: "@") { host = end + 1 }
            end += 1
        }
        return (start, host, end)
    }

    /// The value as it is looked up: a URL without the credentials its authority may carry (`user:pass@`).
    /// They are the victim's, so they never reach a source, a cache key or an event.
    public var withoutCredentials: Indicator {
        var text = value
        return text.withUTF8 { bytes in
            guard let authority = urlAuthority(bytes), authority.host > authority.start else { return self }
            return Indicator(
                type: .url,
                value: String(decoding: Array(bytes[..<authority.start]) + bytes[authority.host...], as: UTF8.self)
            )
        }
    }

    /// The host of a URL or email, as an indicator of its own.
    public var host: Indicator? {
        switch type {
        case .email:
            var text = value
            return text.withUTF8 { bytes in
                guard let at = bytes.lastIndex(of: UInt8(ascii: "@")) else { return nil }
                return Indicator(hostBytes: UnsafeBufferPointer(rebasing: bytes[(at + 1)...]))
            }
        case .url:
            // In place: every URL found is assessed through its host.
            var text = value
            return text.withUTF8 { bytes in
                guard let (_, start, authorityEnd) = urlAuthority(bytes) else { return nil }
                var end = authorityEnd
                if start < end, bytes[start] == UInt8(ascii: "["),
                    let close = bytes[start..<end].firstIndex(of: UInt8(ascii: "]"))
                {
                    return Indicator(hostBytes: UnsafeBufferPointer(rebasing: bytes[(start + 1)..<close]))
                }
                if let portColon = bytes[start..<end].lastIndex(of: UInt8(ascii: ":")) { end = portColon }
                return Indicator(hostBytes: UnsafeBufferPointer(rebasing: bytes[start..<end]))
            }
        default:
            return nil
        }
    }

    /// The host at `bytes` (a URL's or an email's, without brackets or port) as an indicator of its own.
    private init?(hostBytes bytes: UnsafeBufferPointer<UInt8>) {
        // Asked of every URL found: only a digit can start an IPv4 address and only a `:` makes an IPv6 one.
        let text = { String(decoding: bytes, as: UTF8.self) }
        if let first = bytes.first, isASCIIDigit(first),
            let v4 = IPv4Address.parse(UnsafeMutableBufferPointer(mutating: bytes)[...])
        {
            self.init(type: .ipv4, value: v4.description)
        } else if bytes.contains(UInt8(ascii: ":")), let v6 = IPv6Address(text()) {
            if let v4 = v6.mappedIPv4 {
                self.init(type: .ipv4, value: v4.description)
            } else {
                self.init(type: .ipv6, value: v6.description)
            }
        } else if bytes.contains(UInt8(ascii: ".")) {
            // A canonical URL's host is lowercase already: lower only what is not.
            let isLowercase = !bytes.contains { $0 >= 0x41 && $0 <= 0x5A }
            self.init(type: .domain, value: isLowercase ? text() : text().lowercased())
        } else {
            return nil
        }
    }

}

/// The user's own values that must never be looked up: addresses, CIDR blocks, domains (with their
/// subdomains) and exact values of any other type.
public struct AllowList: Sendable {
    private var exact: Set<String> = []
    private var domains: Set<String> = []
    private var networks: [IPNetwork] = []

    public init() {}

    /// Reads one entry a line; `#` starts a comment.
    public init(text: String) {
        for line in text.split(whereSeparator: \.isNewline) {
            _ = add(String(line))
        }
    }

    public var isEmpty: Bool { exact.isEmpty && domains.isEmpty && networks.isEmpty }

    /// Adds one entry; returns false when the line holds nothing usable.
    @discardableResult
    public mutating func add(_ line: String) -> Bool {
        var entry = Substring(line)
        if let hash = entry.firstIndex(of: "#") { entry = entry[..<hash] }
        let value = entry.trimmingCharacters(in: .whitespaces)
        guard !value.isEmpty else { return false }
        if let network = IPNetwork(value) {
            networks.append(network)
        } else if let domain = DomainName.canonical(value.trimmingPrefix("*."), extraTopLevelDomains: []) {
            domains.insert(domain)
        } else {
            exact.insert(value.lowercased())
        }
        return true
    }

    public func contains(_ indicator: Indicator) -> Bool {
        if isEmpty { return false }
        switch indicator.type {
        case .ipv4:
            guard let address = IPv4Address(indicator.value) else { return false }
            return networks.contains { $0.contains(address) }
        case .ipv6:
            guard let address = IPv6Address(indicator.value) else { return false }
            return networks.contains { $0.contains(address) }
        case .domain:
            var name = Substring(indicator.value)
            while true {
                if domains.contains(String(name)) { return true }
                guard let dot = name.firstIndex(of: ".") else { return false }
                name = name[name.index(after: dot)...]
            }
        default:
            return exact.contains(indicator.value.lowercased())
        }
    }
}
