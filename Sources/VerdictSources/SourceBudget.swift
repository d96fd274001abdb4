import Foundation
import Synchronization
import VerdictCore

/// Whose budget: one source with one key and URL. Two API keys are two budgets; a new key starts a fresh one.
public struct BudgetKey: Hashable, Sendable {
    public var source: String
    /// `ProviderSettings.fingerprint`: a hash of the URL and key, never the key itself.
    public var fingerprint: String

    public init(source: String, fingerprint: String) {
        self.source = source
        self.fingerprint = fingerprint
    }
}

/// Everything that limits calls to one source, as every process sharing the store sees it: the use of each
/// rate window, the wait a 429 asked for, the provider's own count, and the circuit breaker.
public struct SourceBudgetState: Sendable, Equatable {
    public struct WindowUse: Sendable, Equatable {
        public var seconds: Int
        /// The window's start, seconds since 1970 (windows are aligned to the epoch).
        public var start: Int64
        public var used: Int

        public init(seconds: Int, start: Int64, used: Int) {
            self.seconds = seconds
            self.start = start
            self.used = used
        }
    }

    public var windows: [WindowUse] = []
    /// No call before this time (a 429's `Retry-After`, or the default wait).
    public var blockedUntil: Double = 0
    /// Failures in a row.
    public var failures = 0
    /// Nonzero while the circuit is open: no call before then, and after it one probe.
    public var openUntil: Double = 0
    /// While a probe is out, until when it holds the lease; a killed prober's lease runs out.
    public var probeLeaseUntil: Double = 0
    /// The provider's own count, while its period lasts.
    public var providerQuota: ProviderQuota?

    public init() {}
}

/// What the budget says before a call.
public enum BudgetDecision: Sendable, Equatable {
    /// Go ahead; a probe must report back, since everyone else waits for it.
    case admitted(isProbe: Bool)
    /// No call: `quotaExhausted` or `circuitOpen`, with the reason for people.
    case refused(SourceStatus, String)
}

/// How a call went, for the budget.
public enum CallOutcome: Sendable, Equatable {
    /// The provider answered (an answer, or a refusal of the value itself): the source is healthy.
    case answered(quota: ProviderQuota?)
    /// A 429 or the provider's own quota error: stay away this many seconds.
    case rateLimited(waitSeconds: Double, quota: ProviderQuota?)
    /// The source failed (down, timed out, bad key, malformed answer).
    case failed
    /// The caller gave up before the source answered: says nothing about the source.
    case cancelled
}

/// Where source budgets live: in the store beside the cache, so that every process using the same data
/// directory (or database) spends one budget. `update` must be atomic across those processes.
public protocol SourceBudgetStore: Sendable {
    /// Runs `change` on the budget's state and keeps the result, with no other process's change in between.
    /// `change` may run more than once (on a newer state, when another process changed it meanwhile), so it only
    /// reads and changes the state.
    func update<T: Sendable>(
        _ key: BudgetKey,
        _ change: @escaping @Sendable (inout SourceBudgetState) -> T
    ) async throws -> T

    /// The budget's state now (a fresh state when it was never used).
    func state(of key: BudgetKey) async throws -> SourceBudgetState
}

extension SourceBudgetStore {
    /// Takes one call from every window at once, or none: see `SourceBudgetState.admit`.
    public func admit(_ key: BudgetKey, policy: GovernorPolicy, at time: Double) async throws -> BudgetDecision {
        try await update(key) { $0.admit(source: key.source, policy: policy, at: time) }
    }

    /// Records how an admitted call went.
    public func settle(
        _ key: BudgetKey,
        _ outcome: CallOutcome,
        wasProbe: Bool,
        policy: GovernorPolicy,
        at time: Double
    ) async throws {
        try await update(key) { $0.settle(outcome, wasProbe: wasProbe, policy: policy, at: time) }
    }
}

/// Budgets in this process's memory: for tests, and for sources no other process can spend (the local feeds).
public final class MemorySourceBudgetStore: SourceBudgetStore {
    private let states = Mutex<[BudgetKey: SourceBudgetState]>([:])

    public init() {}

    public func update<T: Sendable>(
        _ key: BudgetKey,
        _ change: @escaping @Sendable (inout SourceBudgetState) -> T
    ) async throws -> T {
        states.withLock { states in change(&states[key, default: SourceBudgetState()]) }
    }

    public func state(of key: BudgetKey) async throws -> SourceBudgetState {
        states.withLock { $0[key] ?? SourceBudgetState() }
    }
}

extension SourceBudgetState {
    /// Decides one call: a 429's wait first, then the provider's own count, then the circuit (after
    /// `openSeconds`, one probe is leased to the first caller), then every rate window, which all take the call
    /// or none does.
    public mutating func admit(source name: String, policy: GovernorPolicy, at time: Double) -> BudgetDecision {
        if time < blockedUntil {
            return .refused(
                .quotaExhausted,
                "\(name) asked to wait \(Self.seconds(blockedUntil - time)) s more (until \(isoDate(unixSeconds: Int(blockedUntil))))"
            )
        }
        if let quota = providerQuota, let resetsAt = quota.resetsAt {
            if time >= resetsAt {
                providerQuota = nil
            } else if quota.remaining <= 0 {
                return .refused(
                    .quotaExhausted,
                    "\(name) says its quota\(quota.limit.map { " of \($0)" } ?? "") is used (until \(isoDate(unixSeconds: Int(resetsAt))))"
                )
            }
        }
        var isProbe = false
        if openUntil > 0 {
            if time < openUntil {
                return .refused(
                    .circuitOpen,
                    "\(name) failed \(failures) times in a row; next try in \(Self.seconds(openUntil - time)) s"
                )
            }
            if time < probeLeaseUntil {
                return .refused(.circuitOpen, "\(name) failed repeatedly; a probe is in flight")
            }
            isProbe = true
        }
        var uses: [WindowUse] = []
        for window in policy.windows {
            let start = window.start(containing: time)
            var use = windows.first { $0.seconds == window.seconds && $0.start == start }
            if use == nil { use = WindowUse(seconds: window.seconds, start: start, used: 0) }
            if use!.used >= window.limit {
                return .refused(
                    .quotaExhausted,
                    "\(name) quota of \(window) used (until \(isoDate(unixSeconds: Int(start) + window.seconds)))"
                )
            }
            use!.used += 1
            uses.append(use!)
        }
        windows = uses
        if var quota = providerQuota {
            quota.remaining -= 1
            providerQuota = quota
        }
        if isProbe {
            // Long enough for the probe's own deadline; a prober that dies leaves the lease to run out.
            probeLeaseUntil = time + Double(policy.deadline.milliseconds) / 1000 + 5
        }
        return .admitted(isProbe: isProbe)
    }

    /// Records an admitted call's outcome: an answer closes the circuit; failures in a row open it (a failed
    /// probe at once); a 429 blocks for its wait; a cancelled call changes nothing but gives up its probe lease.
    public mutating func settle(_ outcome: CallOutcome, wasProbe: Bool, policy: GovernorPolicy, at time: Double) {
        switch outcome {
        case .answered(let quota):
            failures = 0
            openUntil = 0
            probeLeaseUntil = 0
            take(quota, policy: policy)
        case .rateLimited(let wait, let quota):
            blockedUntil = max(blockedUntil, time + wait)
            if wasProbe {
                // It answered, so it is up; the wait does the rest.
                failures = 0
                openUntil = 0
                probeLeaseUntil = 0
            }
            take(quota, policy: policy)
        case .failed:
            if wasProbe {
                failures += 1
                openUntil = time + policy.openSeconds
                probeLeaseUntil = 0
            } else if openUntil == 0 {
                failures += 1
                if failures >= policy.failureThreshold { openUntil = time + policy.openSeconds }
            }
        case .cancelled:
            if wasProbe { probeLeaseUntil = 0 }
        }
    }

    /// The provider's count is the truth: for the window of the same size of limit it sets the use, and it
    /// stands on its own until its reset (MISP's 15-minute window matches no setting).
    mutating func take(_ quota: ProviderQuota?, policy: GovernorPolicy) {
        guard let quota else { return }
        if let limit = quota.limit {
            for index in windows.indices {
                guard let window = policy.windows.first(where: { $0.seconds == windows[index].seconds }),
                    window.limit == limit
                else { continue }
                windows[index].used = min(limit, max(0, limit - quota.remaining))
            }
        }
        if quota.resetsAt != nil { providerQuota = quota }
    }

    /// Calls left in each of `policy`'s windows at `time`, and when each window ends.
    public func remaining(policy: GovernorPolicy, at time: Double) -> [(
        window: RateWindow, left: Int, resetsAt: Double
    )] {
        policy.windows.map { window in
            let start = window.start(containing: time)
            let used = windows.first { $0.seconds == window.seconds && $0.start == start }?.used ?? 0
            return (window, max(0, window.limit - used), Double(start) + Double(window.seconds))
        }
    }

    /// `closed`, `open` or `half_open` (a probe is out).
    public func circuit(at time: Double) -> String {
        guard openUntil > 0 else { return "closed" }
        return time >= openUntil && time < probeLeaseUntil ? "half_open" : "open"
    }

    static func seconds(_ interval: Double) -> Int { max(1, Int(interval.rounded(.up))) }
}

/// Failures of the shared stores (the answer cache, the source budgets): never silent. Each is counted for
/// `/metrics` and logged, at most once a second per store with a count of the ones in between.
public final class StoreHealth: Sendable {
    public enum Store: String, Sendable, CaseIterable {
        case cache
        case budget
    }

    struct Counts {
        var failures: [Store: Int] = [:]
        var lastLogged: [Store: Double] = [:]
        var unlogged: [Store: Int] = [:]
    }

    private let counts = Mutex(Counts())
    private let log: @Sendable (String) -> Void

    /// - Parameters:
    ///   - log: where a failure is told (standard error, the server's log, integrations.log).
    public init(log: @escaping @Sendable (String) -> Void = { _ in }) {
        self.log = log
    }

    public func record(_ store: Store, _ message: String) {
        let time = Date().timeIntervalSince1970
        let skipped: Int? = counts.withLock { counts in
            counts.failures[store, default: 0] += 1
            guard time - (counts.lastLogged[store] ?? 0) >= 1 else {
                counts.unlogged[store, default: 0] += 1
                return nil
            }
            counts.lastLogged[store] = time
            return counts.unlogged.removeValue(forKey: store) ?? 0
        }
        guard let skipped else { return }
        log(
            "error: \(store.rawValue) store failed: \(message)" + (skipped > 0 ? " (and \(skipped) more failures)" : "")
        )
    }

    /// Failures so far, per store.
    public func failures(_ store: Store) -> Int { counts.withLock { $0.failures[store] ?? 0 } }
}

/// Things worth telling once, not on every lookup: a source's quota window running out (once per window, in
/// every process that sees it), a provider's 429.
public final class NoticeLog: Sendable {
    private let told = Mutex<Set<String>>([])
    private let log: @Sendable (String) -> Void

    public init(log: @escaping @Sendable (String) -> Void = { _ in }) {
        self.log = log
    }

    /// Logs `message` the first time `key` is seen by this process.
    public func once(_ key: String, _ message: String) {
        let isNew = told.withLock { told in
            if told.count > 10_000 { told.removeAll() }
            return told.insert(key).inserted
        }
        if isNew { log(message) }
    }
}
