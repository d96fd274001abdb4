/// The kinds of indicator Verdict looks up.
public enum IndicatorType: String, Sendable, Hashable, CaseIterable, Codable, Comparable {
    case ipv4, ipv6, domain, url, email, md5, sha1, sha256

    public var isHash: Bool { self == .md5 || self == .sha1 || self == .sha256 }

    /// The type's place in `allCases`, for per-type counters kept in plain arrays.
    public var ordinal: Int {
        switch self {
        case .ipv4: 0
        case .ipv6: 1
        case .domain: 2
        case .url: 3
        case .email: 4
        case .md5: 5
        case .sha1: 6
        case .sha256: 7
        }
    }

    public static func < (lhs: IndicatorType, rhs: IndicatorType) -> Bool {
        lhs.ordinal < rhs.ordinal
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

    // Hash the type by its position, not its raw string: indicators are cache keys on hot paths.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(type.ordinal)
        hasher.combine(value)
    }

    public static func == (lhs: Indicator, rhs: Indicator) -> Bool {
        lhs.type == rhs.type && lhs.value == rhs.value
    }
}

extension Unicode.Scalar {
    /// The bidirectional embeddings, overrides and isolates (U+202A-202E, U+2066-2069): they make text read
    /// differently than it is (`invoice\u{202E}fdp.exe` shows as `invoiceexe.pdf`).
    public var isBidirectionalControl: Bool {
        (0x202A...0x202E).contains(value) || (0x2066...0x2069).contains(value)
    }
}
