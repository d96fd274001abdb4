import Foundation
import ServiceLifecycle
import VerdictEngine
import VerdictSources

/// What a long-lived process (`verdict serve`, `verdict tail`) keeps current: the overrides and the feeds
/// directory every few seconds, and each bulk feed at its `refresh` interval. Among the processes on one
/// store, one syncs a due feed (the store decides who), the others read the index it writes.
public struct LocalIntelligenceRefresh: Service {
    let runtime: EngineRuntime
    let feeds: [FeedSettings]
    let store: any FeedStore
    let interval: Duration
    let log: @Sendable (String) -> Void

    public init(
        runtime: EngineRuntime,
        store: any FeedStore,
        interval: Duration = .seconds(5),
        log: @escaping @Sendable (String) -> Void
    ) {
        self.runtime = runtime
        self.feeds = runtime.configuration.feeds
        self.store = store
        self.interval = interval
        self.log = log
    }

    public func run() async throws {
        let syncer = FeedSyncer(store: store)
        await cancelWhenGracefulShutdown {
            var lastProblem: String?
            while !Task.isCancelled {
                do {
                    try await runtime.refresh()
                    try await syncDueFeeds(syncer)
                    if lastProblem != nil { log("overrides and feeds are read again") }
                    lastProblem = nil
                } catch {
                    // Said once per kind of trouble, not every few seconds.
                    let problem = "cannot refresh the overrides and feeds: \(error)"
                    if problem != lastProblem { log(problem) }
                    lastProblem = problem
                }
                do { try await Task.sleep(for: interval) } catch { break }
            }
        }
        await syncer.shutdown()
    }

    func syncDueFeeds(_ syncer: FeedSyncer) async throws {
        guard !feeds.isEmpty else { return }
        let states = Dictionary(try await store.states().map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let now = Date().timeIntervalSince1970
        for feed in feeds where !Task.isCancelled {
            let state = states[feed.name]
            let changed = state.map { $0.location != feed.url || $0.format != feed.format.rawValue } ?? true
            let last = changed ? 0 : (state?.checkedAt ?? 0)
            guard now - last >= feed.refreshSeconds || changed else { continue }
            // Another process's claim holds for a minute (its sync is under way), or for the refresh if shorter.
            guard try await store.claimSync(of: feed.name, now: now, dueBefore: now - min(feed.refreshSeconds, 60))
            else { continue }
            let report = try await syncer.sync(feed)
            if report.outcome == .updated { runtime.localFeeds?.forgetRecentAnswers() }
            log("feeds: " + report.line)
        }
    }
}
