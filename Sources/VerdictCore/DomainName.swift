import Foundation

/// Domain-name rules: what counts as a domain, and its canonical form.
public enum DomainName {
    /// Names reserved for local or special use (RFC 6761, RFC 6762, RFC 8375, ICANN's `.internal`): they never
    /// name anything on the internet, so they are suppressed rather than looked up.
    public static let specialUseSuffixes: [String] = [
        "local", "localhost", "internal", "test", "example", "invalid", "home.arpa", "arpa",
    ]

    /// Top-level labels that are not in the Public Suffix List but are still worth recognising:
    /// the special-use names above (so they can be reported as suppressed) and `.onion`.
    static let extraTopLevelDomains: Set<String> = [
        "local", "localhost", "internal", "test", "example", "invalid", "onion",
    ]

    /// The canonical form of `text` as a domain (lowercase, IDN labels in punycode, no trailing dot), or nil
    /// when it is not a syntactically valid domain whose TLD exists.
    ///
    /// - Parameters:
    ///   - text: a refanged candidate such as `WWW.Example.COM.` or `papaya.рф`.
    ///   - extraTopLevelDomains: more top-level labels to accept (the user's internal suffixes).
    public static func canonical(
        _ text: some StringProtocol,
        extraTopLevelDomains: Set<String> = [],
        suffixList: PublicSuffixList = .shared
    ) -> String? {
        var name = Substring(text)
        if name.utf8.allSatisfy({ $0 < 0x80 }) {
            return canonical(ascii: name.utf8, extraTopLevelDomains: extraTopLevelDomains, suffixList: suffixList)
        }
        if name.hasSuffix(".") { name = name.dropLast() }
        guard !name.isEmpty, name.utf8.count <= 253 * 4 else { return nil }
        // IDNA: compatibility-normalise (the `ﬁ` ligature becomes `fi`), lowercase, then punycode each label.
        let mapped = String(name).precomposedStringWithCompatibilityMapping.lowercased()
        var labels: [String] = []
        for label in mapped.split(separator: ".", omittingEmptySubsequences: false) {
            guard !label.isEmpty, label.unicodeScalars.allSatisfy(isLabelScalar) else { return nil }
            guard let encoded = Punycode.encodeLabel(String(label)), let valid = asciiLabel(Substring(encoded))
            else { return nil }
            labels.append(valid)
        }
        return canonical(
            ascii: labels.joined(separator: ".").utf8,
            extraTopLevelDomains: extraTopLevelDomains,
            suffixList: suffixList
        )
    }

    /// `canonical(_:)` of ASCII bytes (the scanner's candidates, an IDN after punycode), built as one string.
    static func canonical(
        ascii bytes: some BidirectionalCollection<UInt8>,
        extraTopLevelDomains: Set<String>,
        suffixList: PublicSuffixList = .shared
    ) -> String? {
        var name = bytes[...]
        if name.last == UInt8(ascii: ".") { name = name.dropLast() }
        guard !name.isEmpty, name.count <= 253, let lastDot = name.lastIndex(of: UInt8(ascii: ".")) else {
            return nil
        }
        let tldBytes = name[name.index(after: lastDot)...]
        // A TLD is letters (or an IDN in punycode), never digits or underscores; and most dotted words in prose
        // end in none (`e.g`, `end.The`): both told from the last label before anything is built.
        let isPunycode = tldBytes.count > 4 && tldBytes.prefix(4).lazy.map(asciiLowercased).elementsEqual("xn--".utf8)
        guard isPunycode || tldBytes.allSatisfy(isASCIILetter) else { return nil }
        guard isTopLevelDomain(tldBytes, extraTopLevelDomains: extraTopLevelDomains, suffixList: suffixList) else {
            return nil
        }
        return asciiName(name)
    }

    /// Whether the ASCII `label` (either case) is a TLD of `suffixList` or one of the extra ones; a short label is
    /// looked up packed, without building a String.
    static func isTopLevelDomain(
        _ label: some Collection<UInt8>,
        extraTopLevelDomains: Set<String>,
        suffixList: PublicSuffixList
    ) -> Bool {
        if let packed = PackedLabelSet.pack(label.lazy.map(asciiLowercased)),
            suffixList.shortTopLevelDomains.contains(packed) || packedExtraTopLevelDomains.contains(packed)
        {
            return true
        }
        guard label.count > 8 || !extraTopLevelDomains.isEmpty else { return false }
        // Lowered in place (a TLD of up to 15 bytes is stored inline, without an allocation).
        let tld = String(unsafeUninitializedCapacity: label.count) { buffer in
            for (offset, byte) in label.enumerated() {
                buffer[offset] = asciiLowercased(byte)
            }
            return label.count
        }
        return suffixList.longTopLevelDomains.contains(tld) || extraTopLevelDomains.contains(tld)
            || DomainName.extraTopLevelDomains.contains(tld)
    }

    static let packedExtraTopLevelDomains = PackedLabelSet(extraTopLevelDomains)

    /// The lowercase form of an ASCII name of two or more valid labels, or nil.
    static func asciiName(_ bytes: some Collection<UInt8>) -> String? {
        var valid = true
        let name = String(unsafeUninitializedCapacity: bytes.count) { output in
            var count = 0
            var labelStart = 0
            var labelHasAlphanumeric = false
            var labels = 0
            func closeLabel() -> Bool {
                let length = count - labelStart
                guard length >= 1, length <= 63, labelHasAlphanumeric, output[labelStart] != UInt8(ascii: "-"),
                    output[count - 1] != UInt8(ascii: "-")
                else { return false }
                labels += 1
                return true
            }
            for byte in bytes {
                switch byte {
                case UInt8(ascii: "."):
                    guard closeLabel() else {
                        valid = false
                        return 0
                    }
                    output[count] = byte
                    count += 1
                    labelStart = count
                    labelHasAlphanumeric = false
                case UInt8(ascii: "A")...UInt8(ascii: "Z"):
                    output[count] = byte + 0x20
                    count += 1
                    labelHasAlphanumeric = true
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                    output[count] = byte
                    count += 1
                    labelHasAlphanumeric = true
                case UInt8(ascii: "-"), UInt8(ascii: "_"):
                    output[count] = byte
                    count += 1
                default:
                    valid = false
                    return 0
                }
            }
            guard closeLabel(), labels >= 2 else {
                valid = false
                return 0
            }
            return count
        }
        return valid ? name : nil
    }

    /// A lowercase LDH label (underscores allowed, as in `_dmarc` and real malware hosts), or nil.
    static func asciiLabel(_ label: Substring) -> String? {
        let bytes = label.utf8
        guard !bytes.isEmpty, bytes.count <= 63 else { return nil }
        guard bytes.first != UInt8(ascii: "-"), bytes.last != UInt8(ascii: "-") else { return nil }
        var hasAlphanumeric = false
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"):
                hasAlphanumeric = true
            case UInt8(ascii: "-"), UInt8(ascii: "_"):
                continue
            default:
                return nil
            }
        }
        return hasAlphanumeric ? label.lowercased() : nil
    }

    static func isLabelScalar(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII {
            let value = scalar.value
            return (0x61...0x7A).contains(value) || (0x30...0x39).contains(value) || value == 0x2D || value == 0x5F
        }
        let properties = scalar.properties
        return properties.isAlphabetic || properties.numericType != nil || properties.generalCategory == .nonspacingMark
            || properties.generalCategory == .spacingMark
    }

    /// The special-use suffix `domain` falls under (`invalid` for `a.b.invalid`), if any.
    public static func specialUseSuffix(of domain: String) -> String? {
        // Asked of every domain found: rule most out by their TLD, packed, before comparing suffixes.
        var domain = domain
        let isSpecialTopLevel = domain.withUTF8 { utf8 in
            let tld = utf8[((utf8.lastIndex(of: UInt8(ascii: ".")) ?? -1) + 1)...]
            guard let packed = PackedLabelSet.pack(tld) else {
                return specialUseTopLevels.contains(String(decoding: tld, as: UTF8.self))
            }
            return packedSpecialUseTopLevels.contains(packed)
        }
        guard isSpecialTopLevel else { return nil }
        return specialUseSuffixes.first { isSubdomain(domain, of: $0) }
    }

    /// The last labels of `specialUseSuffixes`.
    static let specialUseTopLevels: Set<String> = Set(specialUseSuffixes.map { String($0.split(separator: ".").last!) })
    static let packedSpecialUseTopLevels = PackedLabelSet(specialUseTopLevels)

    /// Whether `domain` is `parent` or a name under it, comparing bytes (both are canonical).
    public static func isSubdomain(_ domain: String, of parent: String) -> Bool {
        let name = domain.utf8
        let suffix = parent.utf8
        guard name.count >= suffix.count, name.reversed().starts(with: suffix.reversed()) else { return false }
        return name.count == suffix.count || name.dropLast(suffix.count).last == UInt8(ascii: ".")
    }
}
