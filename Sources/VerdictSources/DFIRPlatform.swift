import VerdictCore

/// The hosted DFIR platform's vocabulary (providers.md §14), one place for the `dfirlab` source, client mode
/// against the platform, and the server's route in the platform's shapes.
public enum DFIRPlatform {
    /// Its indicator types.
    public static let indicatorTypes = ["ip", "domain", "url", "hash", "email"]
    /// The most indicators one call takes.
    public static let maxIndicators = 10

    /// Its type for one of ours.
    public static func type(of type: IndicatorType) -> String {
        switch type {
        case .ipv4, .ipv6: "ip"
        case .md5, .sha1, .sha256: "hash"
        default: type.rawValue
        }
    }

    /// Ours for its verdict (`malicious`, `suspicious`, `clean`, `unknown`); anything else is unknown.
    public static func verdict(_ word: String?) -> Verdict {
        switch word {
        case "malicious": .malicious
        case "suspicious": .suspicious
        case "clean": .harmless
        default: .unknown
        }
    }

    /// Its word for one of our verdicts: a value not looked up (private, on a warninglist) has no provider
    /// data, so `unknown`.
    public static func word(for verdict: Verdict) -> String {
        switch verdict {
        case .malicious: "malicious"
        case .suspicious: "suspicious"
        case .harmless: "clean"
        case .unknown, .suppressed: "unknown"
        }
    }
}
