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
        if name.hasSuffix(".") { name = name.dropLast() }
        guard !name.isEmpty, name.utf8.count <= 253 * 4 else { return nil }
        let isASCII = name.utf8.allSatisfy { $0 < 0x80 }
        var canonical: [UInt8] = []
        if isASCII {
            guard let lowered = asciiName(name.utf8) else { return nil }
            canonical = lowered
        } else {
            // IDNA: compatibility-normalise (the `ﬁ` ligature becomes `fi`), lowercase, then punycode each label.
            let mapped = String(name).precomposedStringWithCompatibilityMapping.lowercased()
            var labels: [String] = []
            for label in mapped.split(separator: ".", omittingEmptySubsequences: false) {
                guard !label.isEmpty, label.unicodeScalars.allSatisfy(isLabelScalar) else { return nil }
                guard let encoded = Punycode.encodeLabel(String(label)), let valid = asciiLabel(Substring(encoded))
                else { return nil }
                labels.append(valid)
            }
            guard let lowered = asciiName(labels.joined(separator: ".").utf8) else { return nil }
            canonical = lowered
        }
        guard canonical.count <= 253, let lastDot = canonical.lastIndex(of: UInt8(ascii: ".")) else { return nil }
        let tldBytes = canonical[(lastDot + 1)...]
        // A TLD is letters (or an IDN in punycode), never digits or underscores.
        let isPunycode = tldBytes.starts(with: "xn--".utf8)
        guard isPunycode || tldBytes.allSatisfy({ $0 >= 0x61 && $0 <= 0x7A }) else { return nil }
        let tld = String(decoding: tldBytes, as: UTF8.self)
        guard
            suffixList.isTopLevelDomain(tld) || extraTopLevelDomains.contains(tld)
                || DomainName.extraTopLevelDomains.contains(tld)
        else { return nil }
        return String(decoding: canonical, as: UTF8.self)
    }

    /// The lowercase bytes of an ASCII name of two or more valid labels, or nil.
    static func asciiName(_ bytes: some Collection<UInt8>) -> [UInt8]? {
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var labelStart = 0
        var labelHasAlphanumeric = false
        var labels = 0
        func closeLabel() -> Bool {
            let length = output.count - labelStart
            guard length >= 1, length <= 63, labelHasAlphanumeric, output[labelStart] != UInt8(ascii: "-"),
                output[output.count - 1] != UInt8(ascii: "-")
            else { return false }
            labels += 1
            return true
        }
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "."):
                guard closeLabel() else { return nil }
                output.append(byte)
                labelStart = output.count
                labelHasAlphanumeric = false
            case UInt8(ascii: "A")...UInt8(ascii: "Z"):
                output.append(byte + 0x20)
                labelHasAlphanumeric = true
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                output.append(byte)
                labelHasAlphanumeric = true
            case UInt8(ascii: "-"), UInt8(ascii: "_"):
                output.append(byte)
            default:
                return nil
            }
        }
        guard closeLabel(), labels >= 2 else { return nil }
        return output
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
        specialUseSuffixes.first { isSubdomain(domain, of: $0) }
    }

    /// Whether `domain` is `parent` or a name under it, comparing bytes (both are canonical).
    public static func isSubdomain(_ domain: String, of parent: String) -> Bool {
        let name = domain.utf8
        let suffix = parent.utf8
        guard name.count >= suffix.count, name.reversed().starts(with: suffix.reversed()) else { return false }
        return name.count == suffix.count || name.dropLast(suffix.count).last == UInt8(ascii: ".")
    }
}
