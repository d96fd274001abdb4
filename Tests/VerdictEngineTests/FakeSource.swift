import Synchronization
import VerdictCore
import VerdictSources

/// An in-process source for engine and governor tests: answers what it is told, counts its calls, and
/// can be slow, hang, fail or rate-limit. Provider adapters are tested against mock HTTP servers instead.
final class FakeSource: ThreatIntelSource {
    enum Behaviour: Sendable {
        case answer(SourceResult)
        case fail(SourceError)
        case hang
    }

    let name: String
    let supportedTypes: Set<IndicatorType>
    let settingsFingerprint: String
    let isExternal: Bool
    let delay: Duration
    private let behaviour: Mutex<Behaviour>
    private let calls = Mutex(0)
    private let inFlight = Mutex((now: 0, peak: 0))

    init(
        _ name: String,
        types: Set<IndicatorType> = [.ipv4, .domain],
        behaviour: Behaviour? = nil,
        delay: Duration = .zero,
        fingerprint: String = "v1",
        isExternal: Bool = true
    ) {
        self.name = name
        self.supportedTypes = types
        self.settingsFingerprint = fingerprint
        self.isExternal = isExternal
        self.delay = delay
        self.behaviour = Mutex(behaviour ?? .answer(.notFound(name)))
    }

    var callCount: Int { calls.withLock { $0 } }
    var peakConcurrency: Int { inFlight.withLock { $0.peak } }

    func set(_ newBehaviour: Behaviour) {
        behaviour.withLock { $0 = newBehaviour }
    }

    func lookUp(_ indicator: Indicator) async throws -> SourceResult {
        calls.withLock { $0 += 1 }
        inFlight.withLock { state in
            state.now += 1
            state.peak = max(state.peak, state.now)
        }
        defer { inFlight.withLock { $0.now -= 1 } }
        if delay > .zero { try await Task.sleep(for: delay) }
        switch behaviour.withLock({ $0 }) {
        case .answer(let result): return result
        case .fail(let error): throw error
        case .hang:
            try await Task.sleep(for: .seconds(3600))
            return .notFound(name)
        }
    }
}

/// A clock the test moves by hand.
final class ManualClock: Sendable {
    private let time = Mutex(1_800_000_000.0)

    var now: Double { time.withLock { $0 } }

    func advance(_ seconds: Double) {
        time.withLock { $0 += seconds }
    }

    var function: @Sendable () -> Double { { self.now } }
}
