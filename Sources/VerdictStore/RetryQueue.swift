import Foundation
import VerdictEngine

/// An alert that got no answer in time, kept to be enriched later.
public struct DeferredAlert: Sendable, Equatable {
    public var id: Int64
    /// The alert as Wazuh wrote it (JSON).
    public var alert: [UInt8]
    /// The `<options>` of the integration that ran it (JSON), so the retry writes what that block asked for.
    public var options: [UInt8]?
    /// The Wazuh home whose queue socket gets the events.
    public var home: String
    /// The indicator values still without an answer; nil for all of the alert's.
    public var pending: [String]?
    public var reason: String
    public var deferredAt: Double
    public var attempts: Int

    public init(
        id: Int64 = 0,
        alert: [UInt8],
        options: [UInt8]?,
        home: String,
        pending: [String]?,
        reason: String,
        deferredAt: Double,
        attempts: Int = 0
    ) {
        self.id = id
        self.alert = alert
        self.options = options
        self.home = home
        self.pending = pending
        self.reason = reason
        self.deferredAt = deferredAt
        self.attempts = attempts
    }
}

/// What the queue holds now.
public struct RetryQueueSummary: Sendable, Equatable {
    public var queued: Int
    public var oldestAt: Double?
    /// Alerts dropped so far because the queue was full or they were too old.
    public var dropped: Int
    /// Queued alerts by why they were deferred, most first.
    public var reasons: [(reason: String, count: Int)]

    public static func == (left: RetryQueueSummary, right: RetryQueueSummary) -> Bool {
        left.queued == right.queued && left.oldestAt == right.oldestAt && left.dropped == right.dropped
            && left.reasons.elementsEqual(right.reasons, by: ==)
    }

    public init(
        queued: Int,
        oldestAt: Double?,
        dropped: Int,
        reasons: [(reason: String, count: Int)]
    ) {
        self.queued = queued
        self.oldestAt = oldestAt
        self.dropped = dropped
        self.reasons = reasons
    }
}

/// The durable retry queue of the integratord and active-response path: bounded by count and age (the oldest
/// go first, counted, never silently), and claimed with a lease so that two processes draining at once never
/// take the same alert.
public protocol RetryQueueStore: Sendable {
    /// Keeps an alert; returns how many are queued now and how many this call dropped to stay in bounds.
    func enqueue(_ alert: DeferredAlert, limits: RetrySettings, at time: Double) async throws
        -> (queued: Int, dropped: Int)
    /// Takes up to `limit` alerts, oldest first, that no other process holds; each is held until `time + lease`.
    func claim(limit: Int, lease: Double, at time: Double) async throws -> [DeferredAlert]
    /// The alert is done (its events are written): it leaves the queue.
    func finish(_ id: Int64) async throws
    /// The alert is still without an answer: it goes back, with what is still pending, and one more try when a
    /// source was really asked (a spent quota or an open circuit asks nobody, so it is no try).
    func giveBack(_ id: Int64, pending: [String]?, reason: String, countsAsTry: Bool) async throws
    func summary() async throws -> RetryQueueSummary
}
