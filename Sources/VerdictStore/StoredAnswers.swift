import Foundation
import Synchronization
import VerdictCore
import VerdictEngine
import VerdictSources

/// The in-memory LRU in front of a shared store (docs/contracts.md §3): reads try memory first and fill it
/// from the store; writes go to both. A miss is remembered for a moment: one lookup asks the cache up to three
/// times before it goes upstream (is it needed, is it there, is it there now that this task may ask), and only the
/// first needs a round trip. Another process's answer written in that moment is read once the moment is over.
public final class TieredLookupCache: LookupCache {
    public let memory: MemoryLookupCache
    public let store: any LookupCache
    let missLifetime: Duration
    private let misses = Mutex<[CacheKey: ContinuousClock.Instant]>([:])
    static let missCapacity = 10_000

    public init(
        memory: MemoryLookupCache = MemoryLookupCache(),
        store: any LookupCache,
        missLifetime: Duration = .milliseconds(200)
    ) {
        self.memory = memory
        self.store = store
        self.missLifetime = missLifetime
    }

    public func answer(for key: CacheKey) async -> CachedAnswer? {
        if let hit = memory.cachedAnswer(for: key) { return hit }
        let now = ContinuousClock.now
        let recentlyMissed = misses.withLock { misses in
            guard let missedAt = misses[key] else { return false }
            if now - missedAt < missLifetime { return true }
            misses[key] = nil
            return false
        }
        if recentlyMissed { return nil }
        guard let stored = await store.answer(for: key) else {
            misses.withLock { misses in
                if misses.count >= Self.missCapacity { misses.removeAll(keepingCapacity: true) }
                misses[key] = now
            }
            return nil
        }
        memory.insert(stored, for: key)
        return stored
    }

    public func store(_ answer: CachedAnswer, for key: CacheKey) async {
        memory.insert(answer, for: key)
        _ = misses.withLock { $0.removeValue(forKey: key) }
        await store.store(answer, for: key)
    }

    public func immediateAnswer(for key: CacheKey) -> CachedAnswer? {
        memory.cachedAnswer(for: key)
    }

    public var memoryGeneration: UInt64? { memory.memoryGeneration }

    /// The shared store's: it holds everything the memory tier does, and what other processes wrote.
    public func freshAnswers(at time: Double) async throws -> [(key: CacheKey, answer: CachedAnswer)] {
        try await store.freshAnswers(at: time)
    }
}

/// A store that cannot be used, and what to do about it.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public let description: String
    /// The store itself failed (disk, locks, connection), as opposed to a request it refused.
    public let isUnavailable: Bool

    public init(_ description: String, isUnavailable: Bool = false) {
        self.description = description
        self.isUnavailable = isUnavailable
    }
}

/// How a `SourceResult` is kept in the cache: JSON with every field.
package enum StoredResult {
    package static func encode(_ result: SourceResult) -> [UInt8] {
        var fields: [(key: String, value: JSONValue)] = [
            ("source", .string(result.source)), ("status", .string(result.status.rawValue)),
            ("categories", .array(result.categories.map(JSONValue.string))),
            ("tags", .array(result.tags.map(JSONValue.string))),
            ("details", result.details),
        ]
        if let verdict = result.verdict { fields.append(("verdict", .string(verdict.rawValue))) }
        if let score = result.score { fields.append(("score", .number(String(score)))) }
        for (key, value) in [
            ("first_seen", result.firstSeen), ("last_seen", result.lastSeen), ("link", result.link),
            ("evidence", result.evidence), ("error", result.error),
        ] {
            if let value { fields.append((key, .string(value))) }
        }
        var writer = JSONWriter()
        writer.value(.object(fields))
        return writer.bytes
    }

    package static func decode(_ bytes: [UInt8]) throws -> SourceResult? {
        let document = try JSONValue(parsing: bytes)
        guard let source = document["source"]?.scalarText,
            let status = document["status"]?.scalarText.flatMap(SourceStatus.init)
        else { return nil }
        func strings(_ key: String) -> [String] {
            guard case .array(let items)? = document[key] else { return [] }
            return items.compactMap(\.scalarText)
        }
        return SourceResult(
            source: source,
            status: status,
            verdict: document["verdict"]?.scalarText.flatMap(Verdict.init),
            score: document["score"]?.scalarText.flatMap { Int($0) },
            categories: strings("categories"),
            tags: strings("tags"),
            firstSeen: document["first_seen"]?.scalarText,
            lastSeen: document["last_seen"]?.scalarText,
            link: document["link"]?.scalarText,
            evidence: document["evidence"]?.scalarText,
            details: document["details"] ?? .object([]),
            error: document["error"]?.scalarText
        )
    }
}
