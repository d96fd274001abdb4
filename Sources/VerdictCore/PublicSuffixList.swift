import Foundation

/// The ICANN section of the Public Suffix List (Data/public_suffix_list.dat, compiled in).
///
/// Used to tell real domains from dotted words: `invoice.pdf` and `user.config` end in no TLD, so they are
/// never domains.
public struct PublicSuffixList: Sendable {
    let rules: Set<String>
    let wildcards: Set<String>
    let exceptions: Set<String>
    /// Every top-level label some rule ends in.
    let topLevelDomains: Set<String>
    /// The labels of `topLevelDomains` of up to 8 bytes (nearly all), packed: asked of every dotted word of a
    /// text, where building and hashing a String cost more than the rest of the check.
    let shortTopLevelDomains: PackedLabelSet
    /// Top-level labels with rules below them (`uk` for `co.uk`, `ck` for `*.ck`).
    let topLevelDomainsWithDeeperRules: Set<String>

    /// The list Verdict ships with.
    public static let shared = PublicSuffixList(rulesText: EmbeddedData.publicSuffixRules)

    /// Reads rules in the list's own syntax (`com`, `*.ck`, `!www.ck`), one a line; `//` comments allowed.
    public init(rulesText: String) {
        var rules = Set<String>()
        var wildcards = Set<String>()
        var exceptions = Set<String>()
        var tlds = Set<String>()
        var deeper = Set<String>()
        // Bytes, not characters: every process that sees a domain reads these 7,000 rules once, and String's
        // character-level trimming and splitting made that a noticeable part of a process's start.
        rules.reserveCapacity(8192)
        for rawLine in rulesText.utf8.split(whereSeparator: { $0 == 0x0A || $0 == 0x0D }) {
            var line = rawLine[...]
            while let first = line.first, first == 0x20 || first == 0x09 { line = line.dropFirst() }
            while let last = line.last, last == 0x20 || last == 0x09 { line = line.dropLast() }
            if line.isEmpty || line.starts(with: "//".utf8) { continue }
            var rule = line
            if line.first == UInt8(ascii: "!") {
                rule = line.dropFirst()
                exceptions.insert(String(decoding: rule, as: UTF8.self))
            } else if line.starts(with: "*.".utf8) {
                rule = line.dropFirst(2)
                wildcards.insert(String(decoding: rule, as: UTF8.self))
            } else {
                rules.insert(String(decoding: rule, as: UTF8.self))
            }
            let isDeeper = line.contains(UInt8(ascii: "."))
            let tldStart = rule.lastIndex(of: UInt8(ascii: ".")).map { rule.index(after: $0) } ?? rule.startIndex
            let tld = String(decoding: rule[tldStart...], as: UTF8.self)
            tlds.insert(tld)
            if isDeeper { deeper.insert(tld) }
        }
        self.rules = rules
        self.wildcards = wildcards
        self.exceptions = exceptions
        self.topLevelDomains = tlds
        self.shortTopLevelDomains = PackedLabelSet(tlds)
        self.topLevelDomainsWithDeeperRules = deeper
    }

    /// Whether `label` (lowercase, punycode for IDN) is a top-level domain.
    public func isTopLevelDomain(_ label: some StringProtocol) -> Bool {
        if let packed = PackedLabelSet.pack(label.utf8) { return shortTopLevelDomains.contains(packed) }
        return topLevelDomains.contains(String(label))
    }

    /// Whether the public suffix of lowercase `domain` is its TLD alone (`evil.zip`, not `evil.co.uk`).
    public func isPublicSuffixTheTopLevelDomain(of domain: String, tld: String) -> Bool {
        guard topLevelDomainsWithDeeperRules.contains(tld) else { return isTopLevelDomain(tld) }
        return publicSuffix(of: domain) == tld
    }

    /// The public suffix of a lowercase domain (`co.uk` for `a.b.co.uk`), by the list's algorithm.
    public func publicSuffix(of domain: String) -> String? {
        // Each candidate is a tail of the name (`a.b.co.uk`, `b.co.uk`, …), taken in place.
        let utf8 = domain.utf8
        var starts = [utf8.startIndex]
        for index in utf8.indices where utf8[index] == UInt8(ascii: ".") { starts.append(utf8.index(after: index)) }
        let tld = String(domain[starts[starts.count - 1]...])
        guard isTopLevelDomain(tld) else { return nil }
        for (position, start) in starts.enumerated() {
            let candidate = String(domain[start...])
            if exceptions.contains(candidate) {
                return position + 1 < starts.count ? String(domain[starts[position + 1]...]) : tld
            }
            if rules.contains(candidate) { return candidate }
            if position + 1 < starts.count, wildcards.contains(String(domain[starts[position + 1]...])) {
                return candidate
            }
        }
        return tld
    }

    /// The registrable domain (`example.co.uk` for `www.example.co.uk`), or nil when `domain` is itself a suffix.
    public func registrableDomain(of domain: String) -> String? {
        guard let suffix = publicSuffix(of: domain), domain.count > suffix.count else { return nil }
        let labels = domain.split(separator: ".")
        let suffixCount = suffix.split(separator: ".").count
        return labels.suffix(suffixCount + 1).joined(separator: ".")
    }
}

/// A set of short labels (1 to 8 bytes), each packed into a `UInt64`, in an open-addressing table: a lookup is a
/// multiply, a shift and a compare or two, with no String built and no SipHash.
struct PackedLabelSet: Sendable {
    private let slots: [UInt64]
    private let shift: UInt64

    /// Packs the labels of 1 to 8 bytes; longer ones are left out (callers keep them elsewhere).
    init(_ labels: some Collection<String>) {
        let packed = labels.compactMap { PackedLabelSet.pack($0.utf8) }
        // At most a quarter full, so a probe sequence is nearly always one slot.
        var bits: UInt64 = 4
        while 1 << bits < packed.count * 4 { bits += 1 }
        var slots = [UInt64](repeating: 0, count: 1 << Int(bits))
        let shift = 64 - bits
        for value in packed {
            var slot = Int(truncatingIfNeeded: (value &* PackedLabelSet.multiplier) >> shift)
            while slots[slot] != 0, slots[slot] != value { slot = (slot + 1) & (slots.count - 1) }
            slots[slot] = value
        }
        self.slots = slots
        self.shift = shift
    }

    func contains(_ packed: UInt64) -> Bool {
        var slot = Int(truncatingIfNeeded: (packed &* PackedLabelSet.multiplier) >> shift)
        while true {
            let value = slots[slot]
            if value == packed { return true }
            if value == 0 { return false }
            slot = (slot + 1) & (slots.count - 1)
        }
    }

    /// Fibonacci hashing's multiplier (2^64 / golden ratio): spreads packed ASCII over the table's high bits.
    static let multiplier: UInt64 = 0x9E37_79B9_7F4A_7C15

    /// `bytes` as a non-zero `UInt64` (first byte lowest), or nil when empty, longer than 8 bytes or holding a
    /// NUL (which packing could not tell from the end of a shorter label).
    @inline(__always)
    static func pack(_ bytes: some Collection<UInt8>) -> UInt64? {
        guard !bytes.isEmpty, bytes.count <= 8 else { return nil }
        var packed: UInt64 = 0
        var shift: UInt64 = 0
        for byte in bytes {
            guard byte != 0 else { return nil }
            packed |= UInt64(byte) << shift
            shift += 8
        }
        return packed
    }
}
