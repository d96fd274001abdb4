import Foundation
import VerdictCore

/// A rate limit such as "4 per minute": at most `limit` calls in each window of `seconds`, windows aligned
/// to the epoch (a day window resets at 00:00 UTC, as provider quotas do).
public struct RateWindow: Sendable, Equatable, CustomStringConvertible {
    public var limit: Int
    public var seconds: Int

    public init(limit: Int, seconds: Int) {
        self.limit = limit
        self.seconds = max(1, seconds)
    }

    public static func perMinute(_ limit: Int) -> RateWindow { RateWindow(limit: limit, seconds: 60) }
    public static func perHour(_ limit: Int) -> RateWindow { RateWindow(limit: limit, seconds: 3600) }
    public static func perDay(_ limit: Int) -> RateWindow { RateWindow(limit: limit, seconds: 86_400) }

    /// The start of the window that holds `time` (seconds since 1970).
    public func start(containing time: Double) -> Int64 {
        Int64(time) / Int64(seconds) * Int64(seconds)
    }

    public var description: String {
        switch seconds {
        case 60: "\(limit) per minute"
        case 3600: "\(limit) per hour"
        case 86_400: "\(limit) per day"
        default: "\(limit) per \(seconds) s"
        }
    }
}

/// How one source may be called.
public struct GovernorPolicy: Sendable, Equatable {
    /// The longest a lookup may take; past it the source answers `error` ("timeout after N ms").
    public var deadline: Duration
    /// Calls in flight at once; more wait for a slot, within the deadline.
    public var maxConcurrent: Int
    /// Every window must have room, or the source answers `quota_exhausted` at once.
    public var windows: [RateWindow]
    /// Failures in a row that open the circuit.
    public var failureThreshold: Int
    /// How long an open circuit stays open before one probe is let through.
    public var openSeconds: Double
    /// How long to stay away after a 429 that gave no `Retry-After`.
    public var defaultRetryAfterSeconds: Double

    public init(
        deadline: Duration = .seconds(3),
        maxConcurrent: Int = 4,
        windows: [RateWindow] = [],
        failureThreshold: Int = 5,
        openSeconds: Double = 30,
        defaultRetryAfterSeconds: Double = 60
    ) {
        self.deadline = deadline
        self.maxConcurrent = maxConcurrent
        self.windows = windows
        self.failureThreshold = failureThreshold
        self.openSeconds = openSeconds
        self.defaultRetryAfterSeconds = defaultRetryAfterSeconds
    }
}

/// Stands between the engine and one source: type support, then the shared budget (a 429's wait, the
/// circuit breaker, the rate windows: `SourceBudgetStore`, one for every process on the same store), then this
/// process's concurrency cap and the deadline. Whatever happens, a lookup returns a `SourceResult`
/// (docs/contracts.md §2 statuses) and never outlives its deadline by more than the time the source takes to
/// notice cancellation. A caller that gives up is not a failure of the source.
public final class SourceGovernor: Sendable {
    public let source: any ThreatIntelSource
    public let policy: GovernorPolicy
    public let budget: any SourceBudgetStore
    public let budgetKey: BudgetKey
    /// Where a budget store's failures are counted and logged.
    public let health: StoreHealth
    /// Where a quota running out is told, once per window.
    public let notices: NoticeLog
    private let now: @Sendable () -> Double
    private let slots: AsyncSemaphore

    /// - Parameters:
    ///   - budget: the shared store; a store of its own in memory when not given (tests, the local feeds).
    ///   - now: seconds since 1970; tests pass their own clock.
    public init(
        source: any ThreatIntelSource,
        policy: GovernorPolicy = GovernorPolicy(),
        budget: any SourceBudgetStore = MemorySourceBudgetStore(),
        health: StoreHealth = StoreHealth(),
        notices: NoticeLog = NoticeLog(),
        now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }
    ) {
        self.source = source
        self.policy = policy
        self.budget = budget
        self.budgetKey = BudgetKey(source: source.name, fingerprint: source.settingsFingerprint)
        self.health = health
        self.notices = notices
        self.now = now
        self.slots = AsyncSemaphore(value: policy.maxConcurrent)
    }

    /// The shared budget as it stands, for metrics and `--explain`; nil when the store cannot be read (counted).
    public func budgetStatus() async -> BudgetStatus? {
        do {
            let state = try await budget.state(of: budgetKey)
            let time = now()
            return BudgetStatus(
                circuit: state.circuit(at: time),
                failures: state.failures,
                blockedUntil: state.blockedUntil > time ? state.blockedUntil : nil,
                openUntil: state.openUntil > time ? state.openUntil : nil,
                windows: state.remaining(policy: policy, at: time),
                providerQuota: state.providerQuota.flatMap { quota in
                    (quota.resetsAt ?? 0) > time ? quota : nil
                }
            )
        } catch {
            health.record(.budget, "cannot read the budget of \(source.name): \(error)")
            return nil
        }
    }

    /// `closed`, `open` or `half_open`; `unknown` when the store cannot be read.
    public var circuitState: String {
        get async { await budgetStatus()?.circuit ?? "unknown" }
    }

    public func lookUp(_ indicator: Indicator) async -> SourceResult {
        let name = source.name
        guard source.supportedTypes.contains(indicator.type) else {
            return .failed(name, .skipped, "\(name) does not look up \(indicator.type.rawValue)")
        }
        let isProbe: Bool
        do {
            switch try await budget.admit(budgetKey, policy: policy, at: now()) {
            case .admitted(let probe): isProbe = probe
            case .refused(let status, let reason):
                // A spent window is worth one line per window (its reason names when it refills), not one per
                // lookup; the text is the same for every refusal within the window.
                if status == .quotaExhausted {
                    notices.once("\(name)|\(reason)", "\(reason); \(name) is not asked until then")
                }
                return .failed(name, status, reason)
            }
        } catch {
            // Never an unlimited budget: without the store, the source is not asked.
            health.record(.budget, "\(name) not asked: \(error)")
            return .failed(name, .error, "\(name) not asked: the budget store failed (\(error))")
        }

        let clock = ContinuousClock()
        let started = clock.now
        let source = self.source
        let slots = self.slots
        var result: SourceResult
        let outcome: CallOutcome
        do {
            result = try await withDeadline(policy.deadline) {
                try await slots.acquire()
                defer { slots.release() }
                return try await source.lookUp(indicator)
            }
            outcome = .answered(quota: result.providerQuota)
        } catch _ where Task.isCancelled {
            // The caller gave up (a cancelled request, a batch past its budget): nothing is known of the source.
            outcome = .cancelled
            result = .failed(name, .error, "\(name): the lookup was cancelled before \(name) answered")
        } catch let error as SourceError where error.isRateLimit {
            let wait = error.retryAfter.map { Double($0.components.seconds) } ?? policy.defaultRetryAfterSeconds
            outcome = .rateLimited(waitSeconds: wait, quota: error.providerQuota)
            result = .failed(
                name,
                .quotaExhausted,
                "\(error.description); waiting \(Int(wait)) s (until \(isoDate(unixSeconds: Int(now() + wait))))"
            )
        } catch let error as SourceError where error.isCausedByInput {
            // The source answered: it is healthy (a probe closes the circuit), and any caller can send values a
            // provider refuses, so they must never open the circuit for everyone.
            outcome = .answered(quota: error.providerQuota)
            result = .failed(name, .error, error.description)
            result.rejectedByProvider = true
        } catch is DeadlineExceeded {
            outcome = .failed
            result = .failed(name, .error, SourceError.timeout(after: policy.deadline.milliseconds).description)
        } catch let error as SourceError {
            outcome = .failed
            result = .failed(name, .error, error.description)
        } catch {
            outcome = .failed
            result = .failed(name, .error, "\(name): \(error)")
        }
        result.latencyMilliseconds = (clock.now - started).milliseconds
        await settle(outcome, wasProbe: isProbe)
        return result
    }

    /// Reports the outcome even for a cancelled caller (in a task of its own, which the cancellation does not
    /// reach), so a probe's lease is given back.
    private func settle(_ outcome: CallOutcome, wasProbe: Bool) async {
        let budget = self.budget
        let key = budgetKey
        let policy = self.policy
        let time = now()
        let health = self.health
        await Task {
            do {
                try await budget.settle(key, outcome, wasProbe: wasProbe, policy: policy, at: time)
            } catch {
                health.record(.budget, "cannot record the outcome of a call to \(key.source): \(error)")
            }
        }.value
    }
}

/// One source's shared budget at one moment.
public struct BudgetStatus: Sendable {
    /// `closed`, `open` or `half_open`.
    public var circuit: String
    public var failures: Int
    /// After a 429: no call before then.
    public var blockedUntil: Double?
    /// While the circuit is open: the earliest probe.
    public var openUntil: Double?
    public var windows: [(window: RateWindow, left: Int, resetsAt: Double)]
    /// What the provider last said of its own quota, while its period lasts.
    public var providerQuota: ProviderQuota?

    /// One line for people: `4 per minute: 3 left, circuit closed`.
    public var description: String {
        var parts = windows.map { window in
            "\(window.window): \(window.left) left"
                + (window.left == 0 ? " (refills at \(isoDate(unixSeconds: Int(window.resetsAt))))" : "")
        }
        if let quota = providerQuota {
            parts.append("provider says \(quota.remaining) left\(quota.limit.map { " of \($0)" } ?? "")")
        }
        if let blockedUntil { parts.append("blocked until \(isoDate(unixSeconds: Int(blockedUntil)))") }
        var circuitText = "circuit \(circuit)"
        if let openUntil { circuitText += " until \(isoDate(unixSeconds: Int(openUntil)))" }
        parts.append(circuitText)
        return parts.joined(separator: ", ")
    }
}

/// The deadline of an operation passed before it finished.
public struct DeadlineExceeded: Error {
    public init() {}
}

/// Runs `operation`, cancelling it and throwing `DeadlineExceeded` once `deadline` has passed.
public func withDeadline<T: Sendable>(
    _ deadline: Duration,
    _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: deadline)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else { throw DeadlineExceeded() }
        return value
    }
}

extension Duration {
    /// The duration in seconds, fractions kept (for benchmarks' figures).
    public var inSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }

    /// Whole milliseconds, as deadlines and latencies are reported.
    public var milliseconds: Int {
        Int(components.seconds) * 1000 + Int(components.attoseconds / 1_000_000_000_000_000)
    }
}
