import Foundation
import VerdictCore

/// Where a feed's entries come from.
public enum FeedOrigin: String, Sendable {
    /// A bulk feed downloaded by `verdict feeds sync` (settings: `feeds:`).
    case download
    /// A list file in `VERDICT_FEEDS_DIR` (`blocklists/`, `allowlists/`).
    case directory
}

/// What the store knows about one feed: its settings when last synced, its last good copy, its last failure.
public struct FeedState: Sendable, Equatable {
    public var name: String
    public var origin: FeedOrigin
    /// The URL, or the list file's path.
    public var location: String
    public var format: String
    /// What a hit means: `malicious`, `suspicious`, or `harmless` for an allow-list.
    public var verdict: Verdict
    public var entryCount: Int
    /// When the last good copy was indexed (seconds since 1970); nil before the first.
    public var syncedAt: Double?
    /// When the publisher was last asked, answered or not.
    public var checkedAt: Double?
    /// Why the last try failed; nil when it did not. The last good copy stays in use.
    public var lastError: String?
    /// The validators for a conditional request (`If-None-Match`, `If-Modified-Since`).
    public var etag: String?
    public var lastModified: String?
    /// SHA-256 of the last good body, so an unchanged body is not indexed again.
    public var digest: String?
    /// The prefix lengths of the networks the feed lists, set by the store when it indexes the entries; nil when
    /// not known (indexed before they were kept), and then every length is asked.
    public var networkPrefixes: NetworkPrefixes?

    public init(
        name: String,
        origin: FeedOrigin,
        location: String,
        format: String,
        verdict: Verdict,
        entryCount: Int = 0,
        syncedAt: Double? = nil,
        checkedAt: Double? = nil,
        lastError: String? = nil,
        etag: String? = nil,
        lastModified: String? = nil,
        digest: String? = nil,
        networkPrefixes: NetworkPrefixes? = nil
    ) {
        self.name = name
        self.origin = origin
        self.location = location
        self.format = format
        self.verdict = verdict
        self.entryCount = entryCount
        self.syncedAt = syncedAt
        self.checkedAt = checkedAt
        self.lastError = lastError
        self.etag = etag
        self.lastModified = lastModified
        self.digest = digest
        self.networkPrefixes = networkPrefixes
    }
}

/// Which prefix lengths an index's networks have. Real feeds list a few (/24, /16, …), so an address is looked
/// up under those few keys rather than one per possible length (33 for IPv4, 129 for IPv6).
public struct NetworkPrefixes: Sendable, Equatable {
    public var ipv4: Set<Int>
    public var ipv6: Set<Int>

    public init(ipv4: Set<Int> = [], ipv6: Set<Int> = []) {
        self.ipv4 = ipv4
        self.ipv6 = ipv6
    }

    /// The lengths of the networks among `entries` (`network/prefix` values).
    public init(of entries: some Sequence<FeedEntry>) {
        self.init()
        for entry in entries where entry.kind == .network {
            guard let slash = entry.value.lastIndex(of: "/"),
                let length = Int(entry.value[entry.value.index(after: slash)...])
            else { continue }
            if entry.value.contains(":") { ipv6.insert(length) } else { ipv4.insert(length) }
        }
    }

    /// As stored: `4/24,4/16,6/48`.
    public var text: String {
        (ipv4.sorted().map { "4/\($0)" } + ipv6.sorted().map { "6/\($0)" }).joined(separator: ",")
    }

    /// Reads `text` back; nil when it is not in that form.
    public init?(text: String) {
        self.init()
        for token in text.split(separator: ",") {
            let parts = token.split(separator: "/")
            guard parts.count == 2, let length = Int(parts[1]) else { return nil }
            switch parts[0] {
            case "4": ipv4.insert(length)
            case "6": ipv6.insert(length)
            default: return nil
            }
        }
    }

    /// The lengths of every feed's networks; nil when one feed's are not known.
    public static func union(of states: [FeedState]) -> NetworkPrefixes? {
        var all = NetworkPrefixes()
        for state in states {
            guard let prefixes = state.networkPrefixes else { return nil }
            all.ipv4.formUnion(prefixes.ipv4)
            all.ipv6.formUnion(prefixes.ipv6)
        }
        return all
    }
}

/// One indexed entry, with the feed that lists it.
public struct FeedMatch: Sendable, Equatable {
    public var feed: String
    /// What the feed says a hit means.
    public var verdict: Verdict
    public var entry: FeedEntry

    public init(feed: String, verdict: Verdict, entry: FeedEntry) {
        self.feed = feed
        self.verdict = verdict
        self.entry = entry
    }
}

/// A change to the index, applied at once: readers see the old entries or the new, never a mix.
public struct FeedIndexChange: Sendable {
    /// Feeds whose entries are replaced, with their new state.
    public var replaced: [(state: FeedState, entries: [FeedEntry])]
    /// Feeds taken out, entries and state.
    public var removed: [String]
    /// The `VERDICT_FEEDS_DIR` fingerprint these directory feeds were read at, when they were.
    public var directoryFingerprint: String?

    public init(
        replaced: [(state: FeedState, entries: [FeedEntry])] = [],
        removed: [String] = [],
        directoryFingerprint: String? = nil
    ) {
        self.replaced = replaced
        self.removed = removed
        self.directoryFingerprint = directoryFingerprint
    }
}

/// The compiled index of every feed's entries, shared by every process on one database (design §9): built once
/// per change of a feed, read by exact key.
public protocol FeedStore: Sendable {
    /// Every entry whose value is one of `values` (canonical values and `network/prefix` keys).
    func entries(matching values: [String]) async throws -> [FeedMatch]
    /// Applies one change atomically.
    func apply(_ change: FeedIndexChange) async throws
    /// Records a feed's state (checked, not modified, failed) without touching its entries.
    func record(_ state: FeedState) async throws
    func states() async throws -> [FeedState]
    /// The fingerprint of the `VERDICT_FEEDS_DIR` the directory feeds were last read from.
    func directoryFingerprint() async throws -> String?
    /// Calls `body` with every entry of the feeds whose verdict is `verdict`, in no set order.
    func forEachEntry(withVerdict verdict: Verdict, _ body: @escaping @Sendable (FeedMatch) throws -> Void) async throws
    /// Takes the right to sync `feed` now when no process checked it since `dueBefore`; false when another did.
    func claimSync(of feed: String, now: Double, dueBefore: Double) async throws -> Bool
}

/// The index keys that find `indicator`: its value; for a domain, each parent domain (a listed domain covers its
/// subdomains); for an address, each network that holds it; for a URL or an email, the same for its host.
/// Only the networks of the lengths in `prefixes` are asked for; every length when it is nil.
public enum FeedKeys {
    public static func candidates(for indicator: Indicator, prefixes: NetworkPrefixes? = nil) -> [String] {
        var keys = [indicator.value]
        switch indicator.type {
        case .domain:
            keys += parents(of: indicator.value)
        case .ipv4:
            if let address = IPv4Address(indicator.value) {
                let lengths = prefixes.map { $0.ipv4.filter { (0...31).contains($0) }.sorted() } ?? Array(0...31)
                keys += lengths.map { IPNetwork(containing: address, prefix: $0).description }
            }
        case .ipv6:
            if let address = IPv6Address(indicator.value) {
                let lengths = prefixes.map { $0.ipv6.filter { (0...127).contains($0) }.sorted() } ?? Array(0...127)
                keys += lengths.map { IPNetwork(containing: address, prefix: $0).description }
            }
        case .url, .email:
            if let host = indicator.host { keys += candidates(for: host, prefixes: prefixes) }
        default:
            break
        }
        return keys
    }

    static func parents(of domain: String) -> [String] {
        var parents: [String] = []
        var name = Substring(domain)
        while let dot = name.firstIndex(of: ".") {
            name = name[name.index(after: dot)...]
            if name.contains(".") { parents.append(String(name)) }
        }
        return parents
    }

    /// Whether a match of `key` counts for `indicator`: its own value, a domain covering it, or a network
    /// holding it (a URL entry matches its URL only, never a URL under it).
    public static func counts(_ match: FeedMatch, for indicator: Indicator) -> Bool {
        if match.entry.value == indicator.value { return true }
        switch match.entry.kind {
        case .domain, .network: return true
        case .ipv4, .ipv6: return indicator.host?.value == match.entry.value
        default: return false
        }
    }
}
