import Foundation
import Synchronization
import VerdictCore

/// An analyst's word about one value ("this is ours", "we confirmed this is bad"): it wins over every source,
/// costs nothing, and ends at `expiresAt` (design §9).
public struct AnalystOverride: Sendable, Equatable {
    public var indicator: Indicator
    /// `malicious` or `harmless`.
    public var verdict: Verdict
    public var reason: String?
    /// Who set it: `cli:<user>` or the API key's name.
    public var author: String
    public var createdAt: Double
    /// Seconds since 1970; nil for never.
    public var expiresAt: Double?

    public init(
        indicator: Indicator,
        verdict: Verdict,
        reason: String?,
        author: String,
        createdAt: Double,
        expiresAt: Double?
    ) {
        self.indicator = indicator
        self.verdict = verdict
        self.reason = reason
        self.author = author
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }

    public func isActive(at time: Double) -> Bool { expiresAt.map { $0 > time } ?? true }

    /// The summary a report carries: `analyst: <reason>`.
    public var summary: String { "analyst: \(reason ?? "\(verdict.rawValue), set by \(author)")" }
}

/// The analysts' overrides, shared by every process on one database.
public protocol OverrideStore: Sendable {
    /// Adds an override, or replaces the one on the same value.
    func put(_ override: AnalystOverride) async throws
    /// Removes the override on `indicator`; false when there was none.
    func remove(_ indicator: Indicator) async throws -> Bool
    /// Every override that has not expired at `time`, oldest first.
    func active(at time: Double) async throws -> [AnalystOverride]
}

/// The overrides in force, held in memory so that every lookup checks them without waiting: loaded when a
/// process starts and again every few seconds by long-lived ones (`verdict serve`, `verdict tail`), and
/// changed at once by this process's own `put` and `remove`.
public final class OverrideBook: Sendable {
    private let entries = Mutex<[Indicator: AnalystOverride]>([:])

    public init(_ overrides: [AnalystOverride] = []) {
        replace(with: overrides)
    }

    public func replace(with overrides: [AnalystOverride]) {
        entries.withLock { entries in
            entries = Dictionary(overrides.map { ($0.indicator, $0) }, uniquingKeysWith: { _, newer in newer })
        }
    }

    public func set(_ override: AnalystOverride) {
        entries.withLock { $0[override.indicator] = override }
    }

    public func remove(_ indicator: Indicator) {
        _ = entries.withLock { $0.removeValue(forKey: indicator) }
    }

    public var isEmpty: Bool { entries.withLock { $0.isEmpty } }

    /// The override on `indicator`, or on a domain above it (a harmless `corp.example` covers its hosts).
    public func override(for indicator: Indicator, at time: Double) -> AnalystOverride? {
        entries.withLock { entries in
            guard !entries.isEmpty else { return nil }
            if let exact = entries[indicator], exact.isActive(at: time) { return exact }
            guard indicator.type == .domain else { return nil }
            var name = Substring(indicator.value)
            while let dot = name.firstIndex(of: ".") {
                name = name[name.index(after: dot)...]
                if let parent = entries[Indicator(type: .domain, value: String(name))], parent.isActive(at: time) {
                    return parent
                }
            }
            return nil
        }
    }
}

/// `30d`, `12h`, `90m`, `45s`, `2w`: a duration as users write it, in seconds.
public enum DurationText {
    public static func seconds(_ text: String) -> Double? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        guard let unit = trimmed.last, let number = Double(trimmed.dropLast()), number > 0 else {
            return Double(trimmed).flatMap { $0 > 0 ? $0 : nil }
        }
        switch unit {
        case "s": return number
        case "m": return number * 60
        case "h": return number * 3_600
        case "d": return number * 86_400
        case "w": return number * 604_800
        default: return nil
        }
    }
}
