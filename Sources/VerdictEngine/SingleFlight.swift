import Synchronization

/// Makes concurrent requests for one key share one piece of work: the first caller runs it, the others
/// wait for its value (docs/contracts.md §3: 100 concurrent lookups of one value make one upstream call).
/// A leader whose own caller gave up (its task cancelled) hands nothing on: the waiters, still wanting an
/// answer, go round again and one of them runs the work.
final class SingleFlight<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private let waiting = Mutex<[Key: [CheckedContinuation<Value?, Never>]]>([:])

    /// Runs `work` unless a run for `key` is under way, in which case waits for that run's value.
    /// `work` for a key runs again only after the previous run has finished.
    func run(_ key: Key, _ work: () async -> Value) async -> Value {
        while true {
            let isLeader = waiting.withLock { table in
                if table[key] != nil { return false }
                table[key] = []
                return true
            }
            if isLeader {
                let value = await work()
                let shared = Task.isCancelled ? nil : value
                let followers = waiting.withLock { $0.removeValue(forKey: key) } ?? []
                for follower in followers { follower.resume(returning: shared) }
                return value
            }
            let shared: Value? = await withCheckedContinuation { continuation in
                let queued = waiting.withLock { table in
                    guard table[key] != nil else { return false }
                    table[key]!.append(continuation)
                    return true
                }
                // The run finished between our two looks (or its leader was cancelled): go round again.
                if !queued { continuation.resume(returning: nil) }
            }
            if let shared { return shared }
        }
    }
}
