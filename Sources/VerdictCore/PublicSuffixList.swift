import Foundation

/// The ICANN section of the Public Suffix List (Data/public_suffix_list.dat, compiled in).
///
/// Used to tell real domains from dotted words: `invoice.pdf` and `user.config` end in no TLD, so they are
/// never domains.
public struct PublicSuffixList: Sendable {
    /// The rules (`co.uk`), the wildcards' parents (`ck` for `*.ck`) and the exceptions (`www.ck` for `!www.ck`),
    /// each sorted by their bytes and searched in place.
    let rules: SortedEntries
    let wildcards: SortedEntries
    let exceptions: SortedEntries
    /// The top-level labels some rule ends in, of up to 8 bytes (nearly all), packed: asked of every dotted word
    /// of a text, where building and hashing a String cost more than the rest of the check.
    let shortTopLevelDomains: PackedLabelSet
    /// The longer top-level labels.
    let longTopLevelDomains: Set<String>
    /// Top-level labels with rules below them (`uk` for `co.uk`, `ck` for `*.ck`), packed as above.
    let shortTopLevelDomainsWithDeeperRules: PackedLabelSet
    let longTopLevelDomainsWithDeeperRules: Set<String>

    /// The list Verdict ships with.
    public static let shared = PublicSuffixList(rulesText: EmbeddedData.publicSuffixRules)

    /// Reads rules in the list's own syntax (`com`, `*.ck`, `!www.ck`), one a line; `//` comments allowed.
    ///
    /// Every process that sees a domain reads the 7,000 rules once: they are read as bytes, and when the text is
    /// already the rules alone, sorted (as the compiled-in list is, its few `!` and `*.` rules first), the plain
    /// rules are searched in the text as it is, with no String or set built per rule.
    public init(rulesText: String) {
        let text = Array(rulesText.utf8)
        var rules: [Range<Int>] = []
        var isSortedRulesAlone = true
        var shortTopLevels: [UInt64] = []
        var shortDeeper: [UInt64] = []
        var longTopLevels = Set<String>()
        var longDeeper = Set<String>()
        text.withUnsafeBufferPointer { bytes in
            var lineStart = 0
            while lineStart < bytes.count {
                var lineEnd = lineStart
                while lineEnd < bytes.count, bytes[lineEnd] != 0x0A, bytes[lineEnd] != 0x0D { lineEnd += 1 }
                let nextLine = lineEnd + 1
                var start = lineStart
                var end = lineEnd
                while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start += 1 }
                while end > start, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 { end -= 1 }
                if start != lineStart || end != lineEnd || nextLine < bytes.count && bytes[lineEnd] != 0x0A {
                    isSortedRulesAlone = false
                }
                lineStart = nextLine
                let line = UnsafeBufferPointer(rebasing: bytes[start..<end])
                if line.isEmpty || line.starts(with: "//".utf8) {
                    isSortedRulesAlone = false
                    continue
                }
                if let previous = rules.last, !bytes[previous].lexicographicallyPrecedes(line) {
                    isSortedRulesAlone = false
                }
                rules.append(start..<end)
                let tld = UnsafeBufferPointer(rebasing: line[((line.lastIndex(of: UInt8(ascii: ".")) ?? -1) + 1)...])
                let tldStart = tld.first == UInt8(ascii: "!") ? 1 : 0
                let label = UnsafeBufferPointer(rebasing: tld[(tld.startIndex + tldStart)...])
                let isDeeper = line.contains(UInt8(ascii: "."))
                if let packed = PackedLabelSet.pack(label) {
                    shortTopLevels.append(packed)
                    if isDeeper { shortDeeper.append(packed) }
                } else if !label.isEmpty {
                    let name = String(decoding: label, as: UTF8.self)
                    longTopLevels.insert(name)
                    if isDeeper { longDeeper.insert(name) }
                }
            }
        }
        func isPlain(_ rule: Range<Int>) -> Bool {
            text[rule.lowerBound] != UInt8(ascii: "!") && text[rule.lowerBound] != UInt8(ascii: "*")
        }
        // `!` and `*` sort before every byte a plain rule starts with, so in a sorted text the plain rules are its end.
        let firstPlain = rules.firstIndex(where: isPlain)
        let plainAreTheEnd = rules[(firstPlain ?? rules.count)...].allSatisfy(isPlain)
        func entries(_ prefix: UInt8, dropping length: Int) -> SortedEntries {
            SortedEntries(
                rules.filter { text[$0.lowerBound] == prefix }.map {
                    String(decoding: text[min($0.lowerBound + length, $0.upperBound)..<$0.upperBound], as: UTF8.self)
                }
            )
        }
        self.exceptions = entries(UInt8(ascii: "!"), dropping: 1)
        self.wildcards = entries(UInt8(ascii: "*"), dropping: 2)
        if isSortedRulesAlone, plainAreTheEnd, let firstPlain {
            self.rules = SortedEntries(
                sortedLines: String(decoding: text[rules[firstPlain].lowerBound...], as: UTF8.self)
            )
        } else {
            self.rules = SortedEntries(rules.filter(isPlain).map { String(decoding: text[$0], as: UTF8.self) })
        }
        self.shortTopLevelDomains = PackedLabelSet(packed: shortTopLevels)
        self.longTopLevelDomains = longTopLevels
        self.shortTopLevelDomainsWithDeeperRules = PackedLabelSet(packed: shortDeeper)
        self.longTopLevelDomainsWithDeeperRules = longDeeper
    }

    /// Every top-level label some rule ends in.
    var topLevelDomains: Set<String> {
        longTopLevelDomains.union(shortTopLevelDomains.labels)
    }

    /// Whether `label` (lowercase, punycode for IDN) is a top-level domain.
    public func isTopLevelDomain(_ label: some StringProtocol) -> Bool {
        if let packed = PackedLabelSet.pack(label.utf8) { return shortTopLevelDomains.contains(packed) }
        return longTopLevelDomains.contains(String(label))
    }

    /// Whether a top-level `label` has rules below it.
    func hasDeeperRules(_ label: String) -> Bool {
        if let packed = PackedLabelSet.pack(label.utf8) { return shortTopLevelDomainsWithDeeperRules.contains(packed) }
        return longTopLevelDomainsWithDeeperRules.contains(label)
    }

    /// Whether the public suffix of lowercase `domain` is its TLD alone (`evil.zip`, not `evil.co.uk`).
    public func isPublicSuffixTheTopLevelDomain(of domain: String, tld: String) -> Bool {
        guard hasDeeperRules(tld) else { return isTopLevelDomain(tld) }
        return publicSuffix(of: domain) == tld
    }

    /// The public suffix of a lowercase domain (`co.uk` for `a.b.co.uk`), by the list's algorithm.
    public func publicSuffix(of domain: String) -> String? {
        // Each candidate is a tail of the name (`a.b.co.uk`, `b.co.uk`, …).
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
        self.init(packed: labels.compactMap { PackedLabelSet.pack($0.utf8) })
    }

    /// - Parameter packed: labels as `pack` makes them, repeats allowed.
    init(packed: [UInt64]) {
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

    /// The labels held, unpacked.
    var labels: [String] {
        slots.filter { $0 != 0 }.map { value in
            String(
                decoding: (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }.filter { $0 != 0 },
                as: UTF8.self
            )
        }
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
