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

    /// The list Verdict ships with.
    public static let shared = PublicSuffixList(rulesText: EmbeddedData.publicSuffixRules)

    /// Reads rules in the list's own syntax (`com`, `*.ck`, `!www.ck`), one a line; `//` comments allowed.
    public init(rulesText: String) {
        var rules = Set<String>()
        var wildcards = Set<String>()
        var exceptions = Set<String>()
        var tlds = Set<String>()
        for rawLine in rulesText.split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("//") { continue }
            if line.hasPrefix("!") {
                exceptions.insert(String(line.dropFirst()))
            } else if line.hasPrefix("*.") {
                wildcards.insert(String(line.dropFirst(2)))
            } else {
                rules.insert(line)
            }
            if let last = line.split(separator: ".").last { tlds.insert(String(last)) }
        }
        self.rules = rules
        self.wildcards = wildcards
        self.exceptions = exceptions
        self.topLevelDomains = tlds
    }

    /// Whether `label` (lowercase, punycode for IDN) is a top-level domain.
    public func isTopLevelDomain(_ label: some StringProtocol) -> Bool {
        topLevelDomains.contains(String(label))
    }

    /// The public suffix of a lowercase domain (`co.uk` for `a.b.co.uk`), by the list's algorithm.
    public func publicSuffix(of domain: String) -> String? {
        let labels = domain.split(separator: ".")
        guard let tld = labels.last, isTopLevelDomain(tld) else { return nil }
        for start in labels.indices {
            let candidate = labels[start...].joined(separator: ".")
            if exceptions.contains(candidate) {
                return labels[(start + 1)...].joined(separator: ".")
            }
            if rules.contains(candidate) { return candidate }
            if start + 1 < labels.count, wildcards.contains(labels[(start + 1)...].joined(separator: ".")) {
                return candidate
            }
        }
        return String(tld)
    }

    /// The registrable domain (`example.co.uk` for `www.example.co.uk`), or nil when `domain` is itself a suffix.
    public func registrableDomain(of domain: String) -> String? {
        guard let suffix = publicSuffix(of: domain), domain.count > suffix.count else { return nil }
        let labels = domain.split(separator: ".")
        let suffixCount = suffix.split(separator: ".").count
        return labels.suffix(suffixCount + 1).joined(separator: ".")
    }
}
