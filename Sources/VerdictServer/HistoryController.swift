import Foundation
import Hummingbird
import Logging
import VerdictCore
import VerdictEngine
import VerdictSources
import VerdictStore

/// The recent lookups of each key (`GET /v1/history`), kept in the store so that a reload of the console, or a
/// colleague with the same key, sees them; bounded by `server.history_entries` and `server.history_days`.
struct HistoryController: Sendable {
    let store: (any LookupHistoryStore)?
    let settings: ServerSettings

    var isOn: Bool { store != nil && settings.historyEntries > 0 }

    /// Keeps one answered lookup; a store failure is logged, never the caller's error (the answer was given).
    func record(
        _ reports: [IndicatorReport],
        results: String,
        charged: Int,
        key: APIKey,
        context: ServerRequestContext
    ) async {
        guard let store, isOn, !reports.isEmpty else { return }
        // The worst verdict names the lookup in the list (Verdict's own order: malicious first).
        let worst = reports.map(\.verdict).min() ?? .unknown
        let now = Date().timeIntervalSince1970
        do {
            _ = try await store.record(
                LookupHistoryEntry(
                    keyID: key.id,
                    at: now,
                    indicators: reports.map(\.indicator.value),
                    verdict: worst.rawValue,
                    creditsCharged: charged,
                    results: results
                ),
                keep: settings.historyEntries,
                notBefore: now - settings.historyDays * 86_400
            )
        } catch {
            context.logger.warning(
                "could not keep a lookup in the history",
                metadata: ["verdict.key.name": "\(key.name)", "error.message": "\(error)"]
            )
        }
    }

    func list(_ request: Request, context: ServerRequestContext) async throws -> Response {
        guard let key = context.apiKey else { throw KeyAuthenticator.unknownKey() }
        var limit = settings.historyEntries
        if let text = request.uri.queryParameters["limit"].map(String.init) {
            guard let number = Int(text), number >= 1 else {
                throw APIError.invalidRequest("limit must be a whole number from 1 to \(settings.historyEntries)")
            }
            limit = min(number, settings.historyEntries)
        }
        guard let store, isOn else {
            return Response.json(.object([("lookups", .array([])), ("kept", .number("0"))]))
        }
        let entries: [LookupHistoryEntry]
        do {
            entries = try await store.recent(
                keyID: key.id,
                limit: limit,
                notBefore: Date().timeIntervalSince1970 - settings.historyDays * 86_400
            )
        } catch {
            throw APIError.storeUnavailable()
        }
        var writer = JSONWriter()
        writer.raw("{\"kept\":")
        writer.raw(String(settings.historyEntries))
        writer.raw(",\"days\":")
        writer.value(.number(String(settings.historyDays)))
        writer.raw(",\"lookups\":[")
        for (position, entry) in entries.enumerated() {
            if position > 0 { writer.raw(",") }
            writer.raw("{\"id\":")
            writer.raw(String(entry.id))
            writer.raw(",\"at\":")
            writer.string(isoDate(unixSeconds: Int(entry.at)))
            writer.raw(",\"indicators\":")
            writer.value(.array(entry.indicators.map(JSONValue.string)))
            writer.raw(",\"verdict\":")
            writer.string(entry.verdict)
            writer.raw(",\"credits_charged\":")
            writer.raw(String(entry.creditsCharged))
            // Stored as the answer wrote it: written back as is, not parsed again.
            writer.raw(",\"results\":")
            writer.raw(entry.results)
            writer.raw("}")
        }
        writer.raw("]}")
        return Response.json(bytes: writer.bytes)
    }
}
