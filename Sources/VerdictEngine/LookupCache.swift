import Synchronization
import VerdictCore

/// What a cached answer is filed under: the source, the value, and the source's settings fingerprint,
/// so that answers given under another API key or base URL are never reused (docs/contracts.md §3).
public struct CacheKey: Hashable, Sendable {
    public var source: String
    public var indicator: Indicator
    public var fingerprint: String

    public init(source: String, indicator: Indicator, fingerprint: String) {
        self.source = source
        self.indicator = indicator
        self.fingerprint = fingerprint
    }
}

/// One source's answer as it was stored.
public struct CachedAnswer: Sendable, Equatable {
    public var result: SourceResult
    /// Seconds since 1970.
    public var storedAt: Double
    public var expiresAt: Double

    public init(result: SourceResult, storedAt: Double, expiresAt: Double) {
        self.result = result
        self.storedAt = storedAt
        self.expiresAt = expiresAt
    }
}

/// Where answers are kept between lookups: memory, SQLite, PostgreSQL.
public protocol LookupCache: Sendable {
    /// The stored answer, expired or not (the engine decides).
    func answer(for key: CacheKey) async -> CachedAnswer?
    func store(_ answer: CachedAnswer, for key: CacheKey) async
    /// The stored answer when it can be had without waiting (from memory), else nil. Lets the engine
    /// answer fully cached lookups without starting a task per source.
    func immediateAnswer(for key: CacheKey) -> CachedAnswer?
    /// A number that changes whenever an answer that `immediateAnswer` can return changes, or nil when
    /// the cache cannot tell. While it stays the same, a report built from immediate answers stays right.
    var memoryGeneration: UInt64? { get }
    /// Every answer still fresh at `time` (for `verdict wazuh lists`: what the cache knows is bad now).
    func freshAnswers(at time: Double) async throws -> [(key: CacheKey, answer: CachedAnswer)]
}

extension LookupCache {
    public func immediateAnswer(for key: CacheKey) -> CachedAnswer? { nil }
    public var memoryGeneration: UInt64? { nil }
}

/// An in-memory least-recently-used cache, in front of a shared store or on its own.
public final class MemoryLookupCache: LookupCache {
    private struct Entry {
        var key: CacheKey
        var answer: CachedAnswer
        var newer: Int
        var older: Int
    }

    private struct State {
        var slots: [Entry] = []
        var index: [CacheKey: Int] = [:]
        var newest = -1
        var oldest = -1
        var generation: UInt64 = 0
    }

    public let capacity: Int
    private let state = Mutex(State())

    public init(capacity: Int = 100_000) {
        self.capacity = max(1, capacity)
    }

    public var count: Int { state.withLock { $0.index.count } }

    public func answer(for key: CacheKey) async -> CachedAnswer? {
        cachedAnswer(for: key)
    }

    public func store(_ answer: CachedAnswer, for key: CacheKey) async {
        insert(answer, for: key)
    }

    public func immediateAnswer(for key: CacheKey) -> CachedAnswer? {
        cachedAnswer(for: key)
    }

    public var memoryGeneration: UInt64? { state.withLock { $0.generation } }

    public func freshAnswers(at time: Double) async throws -> [(key: CacheKey, answer: CachedAnswer)] {
        state.withLock { state in
            state.index.values.map { state.slots[$0] }.filter { $0.answer.expiresAt > time }
                .map { (key: $0.key, answer: $0.answer) }
        }
    }

    /// The synchronous form, for callers on a hot path.
    public func cachedAnswer(for key: CacheKey) -> CachedAnswer? {
        state.withLock { state in
            guard let slot = state.index[key] else { return nil }
            MemoryLookupCache.moveToFront(slot, in: &state)
            return state.slots[slot].answer
        }
    }

    public func insert(_ answer: CachedAnswer, for key: CacheKey) {
        state.withLock { state in
            state.generation &+= 1
            if let slot = state.index[key] {
                state.slots[slot].answer = answer
                MemoryLookupCache.moveToFront(slot, in: &state)
                return
            }
            let slot: Int
            if state.slots.count < capacity {
                slot = state.slots.count
                state.slots.append(Entry(key: key, answer: answer, newer: -1, older: -1))
            } else {
                // Reuse the least recently used slot.
                slot = state.oldest
                MemoryLookupCache.unlink(slot, in: &state)
                state.index[state.slots[slot].key] = nil
                state.slots[slot] = Entry(key: key, answer: answer, newer: -1, older: -1)
            }
            state.index[key] = slot
            MemoryLookupCache.linkAtFront(slot, in: &state)
        }
    }

    private static func unlink(_ slot: Int, in state: inout State) {
        let entry = state.slots[slot]
        if entry.newer >= 0 { state.slots[entry.newer].older = entry.older } else { state.newest = entry.older }
        if entry.older >= 0 { state.slots[entry.older].newer = entry.newer } else { state.oldest = entry.newer }
        state.slots[slot].newer = -1
        state.slots[slot].older = -1
    }

    private static func linkAtFront(_ slot: Int, in state: inout State) {
        state.slots[slot].older = state.newest
        state.slots[slot].newer = -1
        if state.newest >= 0 { state.slots[state.newest].newer = slot }
        state.newest = slot
        if state.oldest < 0 { state.oldest = slot }
    }

    private static func moveToFront(_ slot: Int, in state: inout State) {
        guard state.newest != slot else { return }
        unlink(slot, in: &state)
        linkAtFront(slot, in: &state)
    }
}
