import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import VerdictStore

/// Usage counters (requests, lookups, cache hits) are added up in memory and written once a second, so a
/// cached lookup costs no store write; credits are never buffered (they are reserved and settled in the
/// store). On graceful shutdown the last counts are written after the server has finished its requests.
/// The same service gives back reservations that a crashed process left behind, and shares the per-key request
/// counts with the other replicas (`KeyRateLimiter.share(with:)`).
public final class UsageRecorder: Service, Sendable {
    let accounts: any AccountStore
    let logger: Logger
    let flushInterval: Duration
    /// The per-key request rate limit, one for every replica on the store.
    let limiter: KeyRateLimiter
    /// A reservation older than this belongs to a request that can no longer be running.
    let staleReservationAge: Double
    private let pending = Mutex<[UsageKey: UsageCounters]>([:])

    init(
        accounts: any AccountStore,
        logger: Logger,
        limiter: KeyRateLimiter = KeyRateLimiter(limit: nil, seconds: 1),
        flushInterval: Duration = .seconds(1),
        staleReservationAge: Double = 600
    ) {
        self.accounts = accounts
        self.logger = logger
        self.limiter = limiter
        self.flushInterval = flushInterval
        self.staleReservationAge = staleReservationAge
    }

    func add(_ counters: UsageCounters, keyID: Int64, at time: Date) {
        guard !counters.isZero else { return }
        let key = UsageKey(keyID: keyID, month: usageMonth(of: time))
        pending.withLock { $0[key, default: UsageCounters()] += counters }
    }

    /// Counts not yet written, so `/v1/usage` is exact between flushes.
    func unwritten(keyID: Int64, month: String) -> UsageCounters {
        pending.withLock { $0[UsageKey(keyID: keyID, month: month)] } ?? UsageCounters()
    }

    /// Writes what has been counted; on failure the counts go back and are tried again next time.
    public func flush() async {
        let batch = pending.withLock { pending in
            defer { pending.removeAll(keepingCapacity: true) }
            return pending
        }
        guard !batch.isEmpty else { return }
        do {
            try await accounts.addUsage(batch)
        } catch {
            pending.withLock { pending in
                for (key, counters) in batch { pending[key, default: UsageCounters()] += counters }
            }
            logger.error(
                "could not write usage counters; keeping them to retry",
                metadata: ["error.message": "\(error)"]
            )
        }
    }

    public func run() async throws {
        await releaseStale()
        try? await cancelWhenGracefulShutdown { try await self.flushUntilCancelled() }
        await flush()
    }

    private func flushUntilCancelled() async throws {
        var sinceSweep = Duration.zero
        while !Task.isCancelled {
            try await Task.sleep(for: flushInterval)
            await flush()
            await limiter.share(with: accounts)
            sinceSweep += flushInterval
            if sinceSweep >= .seconds(60) {
                sinceSweep = .zero
                await releaseStale()
            }
        }
    }

    private func releaseStale() async {
        do {
            let released = try await accounts.releaseStaleReservations(olderThan: staleReservationAge, at: Date())
            if released > 0 {
                logger.notice(
                    "gave back credits held by requests that never finished",
                    metadata: ["count": "\(released)"]
                )
            }
        } catch {
            logger.error("could not release stale credit reservations", metadata: ["error.message": "\(error)"])
        }
    }
}
