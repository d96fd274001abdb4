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

/// Stands between the engine and one source: type support, the provider's 429s, the circuit breaker,
/// the rate windows, the concurrency cap and the deadline, in that order. Whatever happens, a lookup
/// returns a `SourceResult` (docs/contracts.md §2 statuses) and never outlives its deadline by more than the
/// time the source takes to notice cancellation.
public actor SourceGovernor {
    public nonisolated let source: any ThreatIntelSource
    public nonisolated let policy: GovernorPolicy
    private let now: @Sendable () -> Double
    private let slots: AsyncSemaphore

    enum Circuit: Equatable {
        case closed(failures: Int)
        case open(until: Double)
        /// One probe is in flight; everyone else still sees the circuit open.
        case halfOpen
    }

    private(set) var circuit = Circuit.closed(failures: 0)
    private var windowUse: [(start: Int64, used: Int)]
    private var blockedUntil: Double = 0

    /// - Parameters:
    ///   - now: seconds since 1970; tests pass their own clock.
    public init(
        source: any ThreatIntelSource,
        policy: GovernorPolicy = GovernorPolicy(),
        now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }
    ) {
        self.source = source
        self.policy = policy
        self.now = now
        self.slots = AsyncSemaphore(value: policy.maxConcurrent)
        self.windowUse = policy.windows.map { _ in (start: -1, used: 0) }
    }

    public var circuitState: String {
        switch circuit {
        case .closed: "closed"
        case .open: "open"
        case .halfOpen: "half_open"
        }
    }

    /// Calls left in each rate window now (for metrics).
    public func quotaRemaining() -> [(window: RateWindow, remaining: Int)] {
        let time = Int64(now())
        return policy.windows.enumerated().map { index, window in
            let start = time / Int64(window.seconds) * Int64(window.seconds)
            let used = windowUse[index].start == start ? windowUse[index].used : 0
            return (window, max(0, window.limit - used))
        }
    }

    public func lookUp(_ indicator: Indicator) async -> SourceResult {
        let name = source.name
        guard source.supportedTypes.contains(indicator.type) else {
            return .failed(name, .skipped, "\(name) does not look up \(indicator.type.rawValue)")
        }
        let time = now()
        if time < blockedUntil {
            return .failed(
                name,
                .quotaExhausted,
                "\(name) asked to wait \(Int((blockedUntil - time).rounded(.up))) s more"
            )
        }
        var isProbe = false
        switch circuit {
        case .open(let until) where time < until:
            return .failed(
                name,
                .circuitOpen,
                "\(name) failed repeatedly; next try in \(Int((until - time).rounded(.up))) s"
            )
        case .halfOpen:
            return .failed(name, .circuitOpen, "\(name) failed repeatedly; a probe is in flight")
        case .open, .closed:
            break
        }
        if let full = reserveWindows(at: time) {
            return .failed(name, .quotaExhausted, "\(name) quota of \(full) used")
        }
        if case .open = circuit {
            circuit = .halfOpen
            isProbe = true
        }

        let clock = ContinuousClock()
        let started = clock.now
        let source = self.source
        let slots = self.slots
        var result: SourceResult
        do {
            result = try await withDeadline(policy.deadline) {
                try await slots.acquire()
                defer { slots.release() }
                return try await source.lookUp(indicator)
            }
            recordSuccess()
        } catch let error as SourceError where error.isRateLimit {
            let wait = error.retryAfter.map { Double($0.components.seconds) } ?? policy.defaultRetryAfterSeconds
            blockedUntil = max(blockedUntil, now() + wait)
            if isProbe { circuit = .closed(failures: 0) }
            result = .failed(name, .quotaExhausted, "\(error.description); waiting \(Int(wait)) s")
        } catch let error as SourceError where error.isCausedByInput {
            // The source answered: it is healthy (a probe closes the circuit), and any caller can send values a
            // provider refuses, so they must never open the circuit for everyone.
            recordSuccess()
            result = .failed(name, .error, error.description)
            result.rejectedByProvider = true
        } catch is DeadlineExceeded {
            recordFailure(isProbe: isProbe)
            result = .failed(name, .error, SourceError.timeout(after: policy.deadline.milliseconds).description)
        } catch let error as SourceError {
            recordFailure(isProbe: isProbe)
            result = .failed(name, .error, error.description)
        } catch {
            recordFailure(isProbe: isProbe)
            result = .failed(name, .error, "\(name): \(error)")
        }
        result.latencyMilliseconds = (clock.now - started).milliseconds
        return result
    }

    /// Counts one call in every window, or names the window that is full (and counts nothing).
    private func reserveWindows(at time: Double) -> RateWindow? {
        for (index, window) in policy.windows.enumerated() {
            let start = Int64(time) / Int64(window.seconds) * Int64(window.seconds)
            if windowUse[index].start != start { windowUse[index] = (start, 0) }
            if windowUse[index].used >= window.limit { return window }
        }
        for index in windowUse.indices { windowUse[index].used += 1 }
        return nil
    }

    private func recordSuccess() {
        circuit = .closed(failures: 0)
    }

    private func recordFailure(isProbe: Bool) {
        switch circuit {
        case .closed(let failures) where failures + 1 < policy.failureThreshold && !isProbe:
            circuit = .closed(failures: failures + 1)
        default:
            circuit = .open(until: now() + policy.openSeconds)
        }
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
    /// Whole milliseconds, as deadlines and latencies are reported.
    public var milliseconds: Int {
        Int(components.seconds) * 1000 + Int(components.attoseconds / 1_000_000_000_000_000)
    }
}
