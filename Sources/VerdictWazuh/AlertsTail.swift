import Foundation
import ServiceLifecycle
import Synchronization
import VerdictCore
import VerdictStore

/// Counts `verdict tail` reports on its metrics port.
public struct TailCounts: Sendable, Equatable {
    public var alertsRead = 0
    public var alertsFiltered = 0
    public var alertsEnriched = 0
    public var notAlerts = 0
    public var lookupFailures = 0
    public var eventsWritten = 0
    public var eventsSpooled = 0
    public var spoolDepth = 0
    public var overlongLines = 0
    public var lagBytes: UInt64 = 0
}

/// `verdict tail`: follows alerts.json, applies an `<integration>` block's filters, enriches several alerts at
/// once and writes their events in order to analysisd's queue, with a checkpoint after every event and an
/// on-disk spool while analysisd is away. Memory stays bounded: one batch of alerts at a time, and the reading
/// stops while the spool is full.
public final class AlertsTail: Service, Sendable {
    public struct Settings: Sendable {
        public var alertsPath: String
        public var socketPath: String
        public var stateFolder: String
        public var block: IntegrationBlock?
        public var concurrency = 16
        public var spoolLimitBytes: UInt64 = 64 << 20
        /// With no checkpoint yet, start at the end of alerts.json (as integratord does) or at its start.
        public var startAtEnd = true
        public var perAlertBudget: Duration = .seconds(10)

        public init(alertsPath: String, socketPath: String, stateFolder: String) {
            self.alertsPath = alertsPath
            self.socketPath = socketPath
            self.stateFolder = stateFolder
        }
    }

    let settings: Settings
    let enricher: AlertEnricher
    let log: @Sendable (String) -> Void
    private let state = Mutex<TailCounts>(TailCounts())
    private let stopping = Atomic<Bool>(false)

    public init(settings: Settings, enricher: AlertEnricher, log: @escaping @Sendable (String) -> Void) {
        self.settings = settings
        self.enricher = enricher
        self.log = log
    }

    public var counts: TailCounts { state.withLock { $0 } }

    /// Prometheus text for `--metrics-port`.
    public var metricsText: String {
        let counts = counts
        let rows: [(String, String, String)] = [
            ("verdict_tail_alerts_read_total", "counter", "\(counts.alertsRead)"),
            ("verdict_tail_alerts_filtered_total", "counter", "\(counts.alertsFiltered)"),
            ("verdict_tail_alerts_enriched_total", "counter", "\(counts.alertsEnriched)"),
            ("verdict_tail_lines_not_alerts_total", "counter", "\(counts.notAlerts)"),
            ("verdict_tail_lines_overlong_total", "counter", "\(counts.overlongLines)"),
            ("verdict_tail_lookup_failures_total", "counter", "\(counts.lookupFailures)"),
            ("verdict_tail_events_written_total", "counter", "\(counts.eventsWritten)"),
            ("verdict_tail_events_spooled_total", "counter", "\(counts.eventsSpooled)"),
            ("verdict_tail_spool_depth", "gauge", "\(counts.spoolDepth)"),
            ("verdict_tail_lag_bytes", "gauge", "\(counts.lagBytes)"),
        ]
        return rows.map { "# TYPE \($0.0) \($0.1)\n\($0.0) \($0.2)\n" }.joined()
    }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await follow()
        } onGracefulShutdown: {
            self.stopping.store(true, ordering: .relaxed)
        }
    }

    /// Stops after the batch in hand (what SIGTERM does through the service group).
    public func stop() { stopping.store(true, ordering: .relaxed) }

    private func follow() async throws {
        try FileManager.default.createDirectory(
            atPath: (settings.stateFolder as NSString).deletingLastPathComponent,
            withIntermediateDirectories: true
        )
        // Owned like the data directory, so a tail started as root leaves it usable by one started as `wazuh`.
        guard PrivateFile.makeSharedFolder(settings.stateFolder) else {
            throw IntegrationFailure(
                .badSettings,
                "cannot create the tail state folder \(settings.stateFolder) (errno \(errno)); check VERDICT_DATA_DIR and its permissions"
            )
        }
        let checkpoint = try TailCheckpoint(path: settings.stateFolder + "/tail.checkpoint")
        let spool = try EventSpool(folder: settings.stateFolder, limitBytes: settings.spoolLimitBytes)
        let saved = checkpoint.load()
        let log = self.log
        let follower = AlertsFollower(
            path: settings.alertsPath,
            resume: saved.map { ($0.identity, $0.offset) },
            atEnd: settings.startAtEnd,
            log: log
        )
        var writer = EventWriter(socketPath: settings.socketPath, spool: spool, log: log)
        // Events of the alert that was being written when the last run stopped, already delivered.
        var alreadyWritten = saved.map { ($0.identity, $0.offset, $0.eventsWritten) }
        if let saved { log("resuming at byte \(saved.offset) of \(settings.alertsPath)") }
        var pausedForSpool = false

        // Cancellation (the service group stopping because another service failed) ends the loop as SIGTERM
        // does; the sleeps below return at once once cancelled, so the loop must not go round again.
        while !stopping.load(ordering: .relaxed) && !Task.isCancelled {
            await writer.drainSpool()
            updateCounts(follower: follower, spool: spool, writer: writer)
            if !spool.isEmpty && spool.wouldOverflow(65_536) {
                if !pausedForSpool {
                    log("the spool is full (\(spool.limitBytes) bytes): alerts are not read until analysisd is back")
                    pausedForSpool = true
                }
                await pause(.milliseconds(500))
                continue
            }
            if pausedForSpool {
                log("the spool has room again; reading alerts")
                pausedForSpool = false
            }
            let lines = follower.nextLines(settings.concurrency * 4)
            guard !lines.isEmpty else {
                if let (identity, offset) = follower.position {
                    checkpoint.save(.init(identity: identity, offset: offset, eventsWritten: 0))
                }
                await pause(.milliseconds(100))
                continue
            }
            let results = await lookUp(lines)
            for (line, result) in zip(lines, results) {
                var skip = 0
                if let (identity, offset, written) = alreadyWritten, identity == line.identity, offset == line.start {
                    skip = written
                }
                alreadyWritten = nil
                var written = 0
                for event in result.events {
                    written += 1
                    if written <= skip { continue }
                    while await !writer.deliver(event) {
                        // Spool full: nothing is dropped; wait for analysisd, or stop here and resume later.
                        if stopping.load(ordering: .relaxed) || Task.isCancelled {
                            checkpoint.save(
                                .init(identity: line.identity, offset: line.start, eventsWritten: written - 1)
                            )
                            updateCounts(follower: follower, spool: spool, writer: writer)
                            return
                        }
                        await pause(.milliseconds(500))
                        await writer.drainSpool()
                    }
                    checkpoint.save(.init(identity: line.identity, offset: line.start, eventsWritten: written))
                }
                checkpoint.save(.init(identity: line.identity, offset: line.end, eventsWritten: 0))
                state.withLock { counts in
                    switch result.kind {
                    case .notAlert: counts.notAlerts += 1
                    case .filtered:
                        counts.alertsRead += 1
                        counts.alertsFiltered += 1
                    case .failed:
                        counts.alertsRead += 1
                        counts.lookupFailures += 1
                    case .enriched:
                        counts.alertsRead += 1
                        counts.alertsEnriched += 1
                    }
                }
            }
        }
        updateCounts(follower: follower, spool: spool, writer: writer)
        log("stopped at byte \(follower.position?.1 ?? 0) of \(settings.alertsPath); checkpoint saved")
    }

    /// Waits, or returns at once when the task is cancelled (the loops check for it).
    private func pause(_ duration: Duration) async {
        do { try await Task.sleep(for: duration) } catch {}
    }

    private func updateCounts(follower: AlertsFollower, spool: EventSpool, writer: EventWriter) {
        let lag = follower.lagBytes
        state.withLock { counts in
            counts.spoolDepth = spool.depth
            counts.eventsWritten = writer.written
            counts.eventsSpooled = writer.spooled
            counts.overlongLines = follower.overlongLines
            counts.lagBytes = lag
        }
    }

    struct LineResult: Sendable {
        enum Kind: Sendable { case notAlert, filtered, failed, enriched }
        var kind: Kind
        var events: [[UInt8]] = []
    }

    /// Looks a batch up, at most `concurrency` alerts at once; results in line order.
    private func lookUp(_ lines: [FollowedLine]) async -> [LineResult] {
        let enricher = enricher
        let block = settings.block
        let budget = settings.perAlertBudget
        let log = self.log
        return await orderedConcurrentMap(lines, limit: settings.concurrency) { line in
            guard let alert = try? JSONValue(parsing: line.bytes), case .object = alert, alert["rule"] != nil else {
                log("skipped a line that is not a JSON alert at byte \(line.start)")
                return LineResult(kind: .notAlert)
            }
            if let block, !block.accepts(alert) { return LineResult(kind: .filtered) }
            do {
                let looked = try await enricher.lookUp(alert, deadline: .now + budget)
                return LineResult(kind: .enriched, events: looked.events)
            } catch {
                log("alert at byte \(line.start): \(error)")
                return LineResult(kind: .failed)
            }
        }
    }
}

/// Sends events to the queue socket, or to the spool while analysisd is away; spooled events go first.
struct EventWriter {
    let socketPath: String
    let spool: EventSpool
    let log: (String) -> Void
    private var socket: QueueSocket?
    private var lastAttempt = ContinuousClock.now - .seconds(10)
    private var away = false
    private(set) var written = 0
    private(set) var spooled = 0

    init(socketPath: String, spool: EventSpool, log: @escaping (String) -> Void) {
        self.socketPath = socketPath
        self.spool = spool
        self.log = log
    }

    /// Writes or spools one event; false when the spool is full (the caller waits and tries again).
    mutating func deliver(_ event: [UInt8]) async -> Bool {
        if spool.isEmpty, await send(event) { return true }
        guard !spool.wouldOverflow(event.count) else {
            if !away {
                log("the spool is full (\(spool.limitBytes) bytes): alerts are not read until analysisd is back")
            }
            away = true
            return false
        }
        spool.append(event)
        spooled += 1
        return true
    }

    /// Sends spooled events in order while the socket takes them.
    mutating func drainSpool() async {
        while let event = spool.peek() {
            guard await send(event) else { return }
            spool.removeFirst()
        }
    }

    private mutating func send(_ event: [UInt8]) async -> Bool {
        if socket == nil {
            // While analysisd is away, try again at most once a second.
            guard !away || ContinuousClock.now - lastAttempt > .seconds(1) else { return false }
            lastAttempt = .now
            do {
                socket = try QueueSocket(path: socketPath)
                if away { log("analysisd's socket is back; sending \(spool.depth) spooled events first") }
                away = false
            } catch {
                if !away { log("\(error.description); spooling events until it is back") }
                away = true
                return false
            }
        }
        do {
            try await socket?.send(event, deadline: .now + .seconds(2))
            written += 1
            return true
        } catch {
            socket = nil
            if !away { log("\(error.description); spooling events until it is back") }
            away = true
            return false
        }
    }
}
