import Crypto
import Foundation
import Synchronization
import VerdictCore

/// The `local` source: the store's compiled index of the synced bulk feeds (`verdict feeds sync`) and of the
/// user's own lists in `VERDICT_FEEDS_DIR` (docs/contracts.md §3):
///
/// - `blocklists/NAME.txt|.csv|.cidr|.list`: known-bad values, one a line (CSV: the value in the first
///   column, an optional category in the second). A hit is `malicious` with the list's name.
/// - `allowlists/NAME.…` in the same formats: known-good values, a `harmless` verdict (still looked up
///   elsewhere; to never look a value up, put it in `allowlist.txt`).
///
/// The directory's lists are read into the index once per change of the directory (its files' names, sizes
/// and times), never by each process. Addresses match CIDR blocks, domains match their subdomains, URLs and
/// emails match their host's entries too. Answers cost no credits: nothing leaves the machine.
public final class LocalFeedsSource: ThreatIntelSource {
    public let name = "local"
    public let supportedTypes = Set(IndicatorType.allCases)
    public let isExternal = false
    /// The index changes under running processes; the engine never caches this source's answers.
    public let settingsFingerprint = "index"
    let store: any FeedStore
    let directory: URL?
    /// Each synced feed's weight (`feeds.NAME.weight`); the directory's lists weigh 1.
    let weights: [String: Double]
    private let compiled = Mutex<Task<Void, any Error>?>(nil)
    /// Answers of the last moments: alerts about one address read the index once in that time. A sync by
    /// another process shows after at most `recentLifetime` (this process's own syncs and directory changes
    /// forget them at once).
    private let recent = Mutex<[Indicator: (result: SourceResult, expiresAt: Double)]>([:])
    /// What the index holds, read with the feeds' states, as old as the answers above at most: whether it is
    /// empty (then nothing is read for an address) and its networks' prefix lengths (only those are asked).
    private let shape = Mutex<(shape: IndexShape, readAt: Double)?>(nil)
    struct IndexShape {
        var isEmpty: Bool
        var prefixes: NetworkPrefixes?
    }
    /// Seconds.
    static let recentLifetime = 30.0
    static let recentCapacity = 100_000

    public init(store: any FeedStore, directory: URL?, weights: [String: Double] = [:]) {
        self.store = store
        self.directory = directory
        self.weights = weights
    }

    /// Brings the index up to date with `VERDICT_FEEDS_DIR` (once per process; a few file stats and one query
    /// when nothing changed).
    ///
    /// - Throws: `FeedsError` naming the list file and line that cannot be read; the index keeps the last good
    ///   copy of the directory.
    public func prepare() async throws {
        guard let directory else { return }
        let task = compiled.withLock { task in
            if let task { return task }
            let made = Task { [store] in _ = try await Self.compile(directory, into: store) }
            task = made
            return made
        }
        do {
            try await task.value
        } catch {
            // A list fixed later is read at the next try, not never.
            compiled.withLock { if $0 == task { $0 = nil } }
            throw error
        }
    }

    /// Reads the directory again if it changed (long-lived processes call this on their refresh timer).
    public func refreshDirectory() async throws {
        guard let directory else { return }
        if try await Self.compile(directory, into: store) { forgetRecentAnswers() }
    }

    /// Forgets the answers of the last moment (after this process changed the index).
    public func forgetRecentAnswers() {
        recent.withLock { $0.removeAll() }
        shape.withLock { $0 = nil }
    }

    func indexShape(now: Double) async throws -> IndexShape {
        if let kept = shape.withLock({ $0 }), now - kept.readAt < Self.recentLifetime { return kept.shape }
        let states = try await store.states()
        let read = IndexShape(
            isEmpty: states.allSatisfy { $0.entryCount == 0 },
            prefixes: NetworkPrefixes.union(of: states)
        )
        shape.withLock { $0 = (read, now) }
        return read
    }

    public func lookUp(_ indicator: Indicator) async throws -> SourceResult {
        do {
            try await prepare()
        } catch {
            return .failed(name, .error, "VERDICT_FEEDS_DIR: \(error)")
        }
        let now = Date().timeIntervalSince1970
        let index = try await indexShape(now: now)
        let matches =
            index.isEmpty
            ? []
            : try await store.entries(matching: FeedKeys.candidates(for: indicator, prefixes: index.prefixes))
                .filter { FeedKeys.counts($0, for: indicator) }
        let result = answer(matches)
        let expiresAt = now + Self.recentLifetime
        recent.withLock { recent in
            if recent.count >= Self.recentCapacity { recent.removeAll(keepingCapacity: true) }
            recent[indicator] = (result, expiresAt)
        }
        return result
    }

    public func immediateResult(for indicator: Indicator) -> (result: SourceResult, expiresAt: Double)? {
        let now = Date().timeIntervalSince1970
        return recent.withLock { recent in
            guard let kept = recent[indicator] else { return nil }
            guard kept.expiresAt > now else {
                recent[indicator] = nil
                return nil
            }
            return kept
        }
    }

    /// The answer the matches make: the worst feed's word (its weight sets the score), naming every feed.
    func answer(_ matches: [FeedMatch]) -> SourceResult {
        let flagging = matches.filter { $0.verdict == .malicious || $0.verdict == .suspicious }
        let deciding = flagging.isEmpty ? matches : flagging
        guard !deciding.isEmpty else { return .notFound(name) }
        func score(_ match: FeedMatch) -> Int {
            let weight = min(1, max(0, weights[match.feed] ?? 1))
            switch match.verdict {
            case .malicious: return Int((100 * weight).rounded())
            case .suspicious: return Int((50 * weight).rounded())
            default: return 0
            }
        }
        let ordered = deciding.sorted { score($0) != score($1) ? score($0) > score($1) : $0.feed < $1.feed }
        var feeds: [String] = []
        for match in ordered where !feeds.contains(match.feed) { feeds.append(match.feed) }
        var categories: [String] = []
        for tag in ordered.flatMap({ $0.entry.tags.isEmpty ? [$0.feed] : $0.entry.tags })
        where !categories.contains(tag) {
            categories.append(tag)
        }
        let best = ordered[0]
        let details = JSONValue.object([
            ("feed", .string(best.feed)),
            (
                "matches",
                .array(
                    ordered.prefix(10).map { match in
                        var fields: [(key: String, value: JSONValue)] = [
                            ("feed", .string(match.feed)), ("value", .string(match.entry.value)),
                            ("kind", .string(match.entry.kind.rawValue)),
                        ]
                        if !match.entry.tags.isEmpty {
                            fields.append(("tags", .array(match.entry.tags.map(JSONValue.string))))
                        }
                        if let link = match.entry.link { fields.append(("link", .string(link))) }
                        if let first = match.entry.firstSeen {
                            fields.append(("first_seen", .number(String(Int(first)))))
                        }
                        if let last = match.entry.lastSeen { fields.append(("last_seen", .number(String(Int(last))))) }
                        return .object(fields)
                    }
                )
            ),
        ])
        return .found(
            name,
            verdict: best.verdict,
            score: score(best),
            evidence: feeds.joined(separator: ", "),
            categories: Array(categories.prefix(10)),
            link: best.entry.link,
            details: details
        )
    }

    // MARK: - The directory's lists

    static let listExtensions: Set<String> = ["txt", "csv", "cidr", "list"]

    /// The list files of `directory`, each with the verdict its folder gives.
    static func listFiles(in directory: URL) -> [(url: URL, verdict: Verdict)] {
        var files: [(URL, Verdict)] = []
        for (folder, verdict) in [("blocklists", Verdict.malicious), ("allowlists", .harmless)] {
            let url = directory.appendingPathComponent(folder)
            let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
            for name in names.sorted() where listExtensions.contains((name as NSString).pathExtension.lowercased()) {
                files.append((url.appendingPathComponent(name), verdict))
            }
        }
        return files
    }

    /// What the directory holds now: its path and each list file's name, size and modification time.
    static func fingerprint(of directory: URL, files: [(url: URL, verdict: Verdict)]) -> String {
        var text = directory.standardizedFileURL.path
        for file in files { text += "\n" + FeedsDirectory.stamp(ofFile: file.url.path) }
        return SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// Reads the directory into the index if it changed since it was last read; whether it did.
    @discardableResult
    static func compile(_ directory: URL, into store: any FeedStore) async throws -> Bool {
        let files = listFiles(in: directory)
        let fingerprint = fingerprint(of: directory, files: files)
        guard try await store.directoryFingerprint() != fingerprint else { return false }
        var change = FeedIndexChange(directoryFingerprint: fingerprint)
        let now = Date().timeIntervalSince1970
        for file in files {
            let entries = try readList(file.url)
            let name = file.url.deletingPathExtension().lastPathComponent
            let state = FeedState(
                name: name,
                origin: .directory,
                location: file.url.path,
                format: file.url.pathExtension.lowercased() == "csv" ? "csv" : "plain",
                verdict: file.verdict,
                syncedAt: now,
                checkedAt: now
            )
            change.replaced.append((state, entries))
        }
        let kept = Set(change.replaced.map(\.state.name))
        change.removed = try await store.states().filter { $0.origin == .directory && !kept.contains($0.name) }
            .map(\.name)
        try await store.apply(change)
        return true
    }

    /// One list file: a value a line, `#` comments; CSV has the value first and an optional category second.
    static func readList(_ file: URL) throws(FeedsError) -> [FeedEntry] {
        let text: String
        do {
            text = try String(contentsOf: file, encoding: .utf8)
        } catch {
            throw FeedsError("cannot read \(file.path) as UTF-8 text: \(error.localizedDescription)")
        }
        let isCSV = file.pathExtension.lowercased() == "csv"
        var entries: [FeedEntry] = []
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = Substring(rawLine)
            if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
            let columns = isCSV ? line.split(separator: ",", omittingEmptySubsequences: false) : [line]
            let value = (columns.first ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
                .trimmingCharacters(in: ["\""])
            guard !value.isEmpty else { continue }
            if isCSV && number == 0 && CSVHeader.isHeader(value) { continue }
            let category = columns.count > 1 ? columns[1].trimmingCharacters(in: .whitespacesAndNewlines) : ""
            guard let entry = FeedEntry(parsing: value, tags: category.isEmpty ? [] : [category]) else {
                throw FeedsError(
                    "\(file.path) line \(number + 1): \"\(value.prefix(80))\" is not an address, CIDR block, domain,"
                        + " URL, email or hash; fix or remove the line"
                )
            }
            entries.append(entry)
        }
        return entries
    }
}

/// CSV header rows (`value,category`) are skipped rather than reported as bad values.
enum CSVHeader {
    static func isHeader(_ value: String) -> Bool {
        ["value", "indicator", "ioc", "ip", "domain", "url", "hash", "address"].contains(value.lowercased())
    }
}
