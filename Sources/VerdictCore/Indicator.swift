/// The kinds of indicator Verdict looks up.
public enum IndicatorType: String, Sendable, Hashable, CaseIterable, Codable, Comparable {
    case ipv4, ipv6, domain, url, email, md5, sha1, sha256

    public var isHash: Bool { self == .md5 || self == .sha1 || self == .sha256 }

    public static func < (lhs: IndicatorType, rhs: IndicatorType) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// One indicator in canonical form: refanged, lowercase where case carries no meaning, IPv6 per RFC 5952,
/// IDN domains in punycode. Two indicators are the same thing exactly when they are equal.
public struct Indicator: Sendable, Hashable, Codable, CustomStringConvertible {
    public let type: IndicatorType
    public let value: String

    /// Wraps a value that is already canonical; use `IndicatorParser` for anything a person or a log wrote.
    public init(type: IndicatorType, value: String) {
        self.type = type
        self.value = value
    }

    public var description: String { "\(type.rawValue):\(value)" }
}
