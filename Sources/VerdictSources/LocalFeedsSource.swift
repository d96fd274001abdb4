import Foundation
import VerdictCore

/// The user's own lists, read from `VERDICT_FEEDS_DIR` (docs/contracts.md §3):
///
/// - `blocklists/NAME.txt|.csv|.cidr|.list`: known-bad values, one a line (CSV: the value in the first
///   column, an optional category in the second). A hit is `malicious` 100 with the list's name.
/// - `allowlists/NAME.…` in the same formats: known-good values, a `harmless` verdict (still looked up
///   elsewhere; to never look a value up, put it in `allowlist.txt`).
///
/// Addresses match CIDR blocks, domains match their subdomains, everything else matches exactly.
/// Answers cost no credits: nothing leaves the machine.
public struct LocalFeedsSource: ThreatIntelSource {
    public let name = "local"
    public let supportedTypes = Set(IndicatorType.allCases)
    public let isExternal = false
    public let settingsFingerprint: String
    let blocklists: [LocalList]
    let allowlists: [LocalList]

    /// Lists as read from one file.
    struct LocalList: Sendable {
        var name: String
        var exact: [String: String] = [:]  // value → category
        var domains: [String: String] = [:]
        var networks: [(IPNetwork, String)] = []

        /// The category the list gives `indicator`, or nil when it is not on the list.
        func category(of indicator: Indicator) -> String? {
            switch indicator.type {
            case .ipv4:
                guard let address = IPv4Address(indicator.value) else { return nil }
                return networks.first { $0.0.contains(address) }?.1 ?? exact[indicator.value]
            case .ipv6:
                guard let address = IPv6Address(indicator.value) else { return nil }
                return networks.first { $0.0.contains(address) }?.1 ?? exact[indicator.value]
            case .domain:
                var name = Substring(indicator.value)
                while true {
                    if let category = domains[String(name)] { return category }
                    guard let dot = name.firstIndex(of: ".") else { return nil }
                    name = name[name.index(after: dot)...]
                }
            default:
                // Both sides are canonical (IndicatorParser): a URL's path keeps its case.
                return exact[indicator.value]
            }
        }
    }

    /// Reads `blocklists/` and `allowlists/` under `directory`; either may be missing.
    public init(directory: URL) throws(FeedsError) {
        blocklists = try Self.readLists(in: directory.appendingPathComponent("blocklists"))
        allowlists = try Self.readLists(in: directory.appendingPathComponent("allowlists"))
        let counts = (blocklists + allowlists).map {
            "\($0.name):\($0.exact.count + $0.domains.count + $0.networks.count)"
        }
        settingsFingerprint = counts.joined(separator: ",")
    }

    public var isEmpty: Bool { blocklists.isEmpty && allowlists.isEmpty }

    static func readLists(in folder: URL) throws(FeedsError) -> [LocalList] {
        let files = (try? FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)) ?? []
        var lists: [LocalList] = []
        for file in files.sorted(by: { $0.path < $1.path })
        where ["txt", "csv", "cidr", "list"].contains(file.pathExtension.lowercased()) {
            let text: String
            do {
                text = try String(contentsOf: file, encoding: .utf8)
            } catch {
                throw FeedsError("cannot read \(file.path) as UTF-8 text: \(error.localizedDescription)")
            }
            var list = LocalList(name: file.deletingPathExtension().lastPathComponent)
            let isCSV = file.pathExtension.lowercased() == "csv"
            for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                var line = Substring(rawLine)
                if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
                let columns = isCSV ? line.split(separator: ",", omittingEmptySubsequences: false) : [line]
                let value = (columns.first ?? "").trimmingCharacters(in: .whitespaces).trimmingCharacters(in: ["\""])
                guard !value.isEmpty else { continue }
                if isCSV && number == 0 && CSVHeader.isHeader(value) { continue }
                let category = columns.count > 1 ? columns[1].trimmingCharacters(in: .whitespaces) : list.name
                if value.contains("/"), let network = IPNetwork(value) {
                    list.networks.append((network, category))
                } else if let indicator = try? IndicatorParser.parse(value) {
                    if indicator.type == .domain {
                        list.domains[indicator.value] = category
                    } else {
                        list.exact[indicator.value] = category
                    }
                } else {
                    throw FeedsError(
                        "\(file.path) line \(number + 1): \"\(value.prefix(80))\" is not an address, CIDR block, domain,"
                            + " URL, email or hash; fix or remove the line"
                    )
                }
            }
            lists.append(list)
        }
        return lists
    }

    public func lookUp(_ indicator: Indicator) async throws -> SourceResult {
        for list in blocklists {
            if let category = list.category(of: indicator) {
                return .found(
                    name,
                    verdict: .malicious,
                    score: 100,
                    evidence: list.name,
                    categories: [category],
                    details: .object([("list", .string(list.name))])
                )
            }
        }
        for list in allowlists where list.category(of: indicator) != nil {
            return .found(
                name,
                verdict: .harmless,
                score: 0,
                evidence: list.name,
                details: .object([("list", .string(list.name))])
            )
        }
        return .notFound(name)
    }
}

/// CSV header rows (`value,category`) are skipped rather than reported as bad values.
enum CSVHeader {
    static func isHeader(_ value: String) -> Bool {
        ["value", "indicator", "ioc", "ip", "domain", "url", "hash", "address"].contains(value.lowercased())
    }
}
