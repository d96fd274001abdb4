import Foundation

/// Why a value given as an indicator could not be read as one.
public struct InvalidIndicator: Error, Sendable, Equatable, CustomStringConvertible {
    public let input: String
    public let reason: String

    public init(input: String, reason: String) {
        self.input = input
        self.reason = reason
    }

    public var description: String { "\"\(input)\": \(reason)" }
}

/// Reads one value that is meant to be an indicator (an API request, a CLI argument, an alert field that
/// names an address or a host): refangs it, detects or checks its type, and returns its canonical form.
///
/// Unlike `TextExtractor`, it trusts that the value is an indicator: `setup.py` given here is a domain.
public enum IndicatorParser {
    public static func parse(_ input: String, as expected: IndicatorType? = nil) throws(InvalidIndicator) -> Indicator {
        let refanged = RefangedText(refanging: Array(input.utf8))
        let text = String(decoding: refanged.bytes, as: UTF8.self).trimmingWhitespace()
        guard !text.isEmpty else { throw InvalidIndicator(input: input, reason: "empty value") }
        if text.unicodeScalars.contains(where: \.isBidirectionalControl) {
            throw InvalidIndicator(
                input: input,
                reason:
                    "contains a bidirectional-override character (U+202A-202E, U+2066-2069), which makes it read differently than it is"
            )
        }
        if let expected {
            guard let indicator = parse(text, type: expected) else {
                throw InvalidIndicator(input: input, reason: "not a valid \(expected.rawValue)\(hint(for: expected))")
            }
            return indicator
        }
        for type in detectionOrder(text) {
            if let indicator = parse(text, type: type) { return indicator }
        }
        throw InvalidIndicator(
            input: input,
            reason: "not an IPv4 or IPv6 address, a domain with a known TLD, an http(s)/ftp URL, an email address"
                + " or an MD5/SHA-1/SHA-256 hash"
        )
    }

    static func detectionOrder(_ text: String) -> [IndicatorType] {
        // UTF-8 bytes: String.contains(String) goes through Foundation here, and this runs per API indicator.
        let utf8 = text.utf8
        if containsURLSeparator(utf8) { return [.url] }
        if utf8.contains(UInt8(ascii: "@")) { return [.email] }
        if utf8.contains(UInt8(ascii: ":")) { return [.ipv6] }
        return [.ipv4, .md5, .sha1, .sha256, .domain]
    }

    /// Whether `://` occurs anywhere.
    static func containsURLSeparator(_ utf8: String.UTF8View) -> Bool {
        var matched = 0
        for byte in utf8 {
            switch (matched, byte) {
            case (0, UInt8(ascii: ":")), (1, UInt8(ascii: "/")): matched += 1
            case (2, UInt8(ascii: "/")): return true
            case (_, UInt8(ascii: ":")): matched = 1
            default: matched = 0
            }
        }
        return false
    }

    static func hint(for type: IndicatorType) -> String {
        switch type {
        case .ipv4: " (four decimal octets, 0-255)"
        case .ipv6: " (RFC 4291 text form)"
        case .domain: " (letters, digits and hyphens in dot-separated labels, ending in a TLD that exists)"
        case .url: " (http, https, ftp, ftps or sftp URL whose host is a domain or an IP address)"
        case .email: " (local-part@domain)"
        case .md5: " (32 hexadecimal digits)"
        case .sha1: " (40 hexadecimal digits)"
        case .sha256: " (64 hexadecimal digits)"
        }
    }

    static func parse(_ text: String, type: IndicatorType) -> Indicator? {
        switch type {
        case .ipv4:
            return IPv4Address(text).map { Indicator(type: .ipv4, value: $0.description) }
        case .ipv6:
            var address = Substring(text)
            if address.hasPrefix("["), address.hasSuffix("]") { address = address.dropFirst().dropLast() }
            guard let parsed = IPv6Address(address) else { return nil }
            if let v4 = parsed.mappedIPv4 { return Indicator(type: .ipv4, value: v4.description) }
            return Indicator(type: .ipv6, value: parsed.description)
        case .md5, .sha1, .sha256:
            guard TextScanner.hashType(ArraySlice(text.utf8)) == type else { return nil }
            return Indicator(type: type, value: text.lowercased())
        case .domain:
            return DomainName.canonical(text).map { Indicator(type: .domain, value: $0) }
        case .url, .email:
            // The whole value must be one URL (or email) for the scanner: nothing before or after it.
            let found = TextExtractor().indicators(in: text)
            guard let first = found.first, first.type == type, text.utf8.allSatisfy({ $0 > 0x20 }) else { return nil }
            return first
        }
    }
}

extension String {
    func trimmingWhitespace() -> String {
        let bytes = Array(utf8)
        var start = 0
        var end = bytes.count
        while start < end, bytes[start] <= 0x20 { start += 1 }
        while end > start, bytes[end - 1] <= 0x20 { end -= 1 }
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }
}
