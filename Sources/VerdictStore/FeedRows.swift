import VerdictCore
import VerdictSources

/// The feed tables' rows as both databases store them, read back from their text: one decoder for SQLite
/// and PostgreSQL.
public enum FeedRow {
    /// Tags in one column, a line each (tags hold commas: "Cobalt Strike, beacon").
    public static func tags(_ tags: [String]) -> String { tags.joined(separator: "\n") }

    /// `[value, feed, kind, tags, link, first_seen, last_seen, verdict]`.
    public static func match(_ fields: [String?]) -> FeedMatch? {
        guard fields.count == 8, let value = fields[0], let feed = fields[1],
            let kind = fields[2].flatMap(FeedEntryKind.init(rawValue:)),
            let verdict = fields[7].flatMap(Verdict.init(rawValue:))
        else { return nil }
        let tags = (fields[3] ?? "").split(separator: "\n").map(String.init)
        return FeedMatch(
            feed: feed,
            verdict: verdict,
            entry: FeedEntry(
                value: value,
                kind: kind,
                tags: tags,
                link: fields[4],
                firstSeen: fields[5].flatMap(Double.init),
                lastSeen: fields[6].flatMap(Double.init)
            )
        )
    }

    /// `[name, origin, location, format, verdict, entries, synced_at, checked_at, last_error, etag,
    /// last_modified, digest, network_prefixes]`.
    public static func state(_ fields: [String?]) -> FeedState? {
        guard fields.count == 13, let name = fields[0], let origin = fields[1].flatMap(FeedOrigin.init(rawValue:)),
            let verdict = fields[4].flatMap(Verdict.init(rawValue:))
        else { return nil }
        return FeedState(
            name: name,
            origin: origin,
            location: fields[2] ?? "",
            format: fields[3] ?? "",
            verdict: verdict,
            entryCount: fields[5].flatMap { Int($0) } ?? 0,
            syncedAt: fields[6].flatMap(Double.init),
            checkedAt: fields[7].flatMap(Double.init),
            lastError: fields[8],
            etag: fields[9],
            lastModified: fields[10],
            digest: fields[11],
            networkPrefixes: fields[12].flatMap(NetworkPrefixes.init(text:))
        )
    }
}
