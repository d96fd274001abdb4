import Foundation
import HTTPTypes
import Hummingbird
import VerdictCore
import VerdictEngine
import VerdictSources
import VerdictStore

/// `POST /v1/overrides`, `GET /v1/overrides`, `DELETE /v1/overrides/{type}/{value}` (design §9), for the keys
/// named in `server.admin_keys`. A change is in this replica's engine at once and in the others' within their
/// refresh (a few seconds).
struct OverridesController: Sendable {
    let store: (any OverrideStore)?
    let book: OverrideBook
    let adminKeys: Set<String>
    let maxBodyBytes: Int
    let bodyTimeout: Duration

    func admitted(_ context: ServerRequestContext) throws -> (any OverrideStore, String) {
        guard let key = context.apiKey else { throw KeyAuthenticator.unknownKey() }
        guard adminKeys.contains(key.name) else {
            throw APIError(
                .forbidden,
                code: "admin_key_required",
                message:
                    "overrides need an admin key (server.admin_keys: \(adminKeys.sorted().joined(separator: ", "))); this key is \"\(key.name)\""
            )
        }
        guard let store else { throw APIError.storeUnavailable() }
        return (store, key.name)
    }

    func list(context: ServerRequestContext) async throws -> Response {
        let (store, _) = try admitted(context)
        let overrides: [AnalystOverride]
        do {
            overrides = try await store.active(at: Date().timeIntervalSince1970)
        } catch {
            throw APIError.storeUnavailable()
        }
        return Response.json(.object([("overrides", .array(overrides.map(OverrideJSON.object)))]))
    }

    /// `{"indicator": "…", "verdict": "malicious"|"harmless", "reason": "…", "expires": "30d"}`.
    func add(_ request: Request, context: ServerRequestContext) async throws -> Response {
        let (store, author) = try admitted(context)
        let body = try await LookupController.collectBody(request, limit: maxBodyBytes, timeout: bodyTimeout)
        let document: JSONValue
        do {
            document = try JSONValue(parsing: body)
        } catch {
            throw APIError.malformedJSON("\(error)")
        }
        let example = #"{"indicator": "185.220.101.4", "verdict": "malicious", "reason": "…", "expires": "30d"}"#
        guard case .object = document, let value = (document["indicator"] ?? document["value"])?.scalarText else {
            throw APIError.invalidRequest("the body must be a JSON object such as \(example)")
        }
        let indicator: Indicator
        do {
            indicator = try IndicatorParser.parse(value).withoutCredentials
        } catch {
            throw APIError.unprocessable("invalid_indicator", "\(error)")
        }
        guard let verdictText = document["verdict"]?.scalarText, let verdict = Verdict(rawValue: verdictText),
            verdict == .malicious || verdict == .harmless
        else {
            throw APIError.unprocessable("invalid_verdict", "verdict must be \"malicious\" or \"harmless\"")
        }
        let now = Date().timeIntervalSince1970
        var expiresAt: Double?
        if let expires = document["expires"]?.scalarText {
            guard let seconds = DurationText.seconds(expires) else {
                throw APIError.unprocessable(
                    "invalid_expires",
                    "expires \"\(expires)\" is not a duration such as 30d, 12h or 90m"
                )
            }
            expiresAt = now + seconds
        }
        let reason = document["reason"]?.scalarText?.trimmingCharacters(in: .whitespacesAndNewlines)
        let override = AnalystOverride(
            indicator: indicator,
            verdict: verdict,
            reason: reason?.isEmpty == false ? reason : nil,
            author: author,
            createdAt: now,
            expiresAt: expiresAt
        )
        do {
            try await store.put(override)
        } catch {
            throw APIError.storeUnavailable()
        }
        book.set(override)
        return Response.json(OverrideJSON.object(override), status: .created)
    }

    func remove(context: ServerRequestContext) async throws -> Response {
        let (store, _) = try admitted(context)
        guard let typeText = context.parameters.get("type"), let type = IndicatorType(rawValue: typeText),
            let raw = context.parameters.get("value")
        else {
            throw APIError.invalidRequest(
                "the path is /v1/overrides/{type}/{value}, type one of ipv4, ipv6, domain, url, email, md5, sha1, sha256"
            )
        }
        let value = raw.removingPercentEncoding ?? raw
        let indicator: Indicator
        do {
            indicator = try IndicatorParser.parse(value, as: type).withoutCredentials
        } catch {
            throw APIError.unprocessable("invalid_indicator", "\(error)")
        }
        let removed: Bool
        do {
            removed = try await store.remove(indicator)
        } catch {
            throw APIError.storeUnavailable()
        }
        book.remove(indicator)
        guard removed else {
            throw APIError(
                .notFound,
                code: "no_override",
                message: "no override on \(type.rawValue) \(indicator.value)"
            )
        }
        return Response.json(
            .object([
                ("removed", .object([("type", .string(type.rawValue)), ("value", .string(indicator.value))]))
            ])
        )
    }
}

/// The feeds' figures in `/metrics`, as `verdict feeds list` shows them.
enum FeedMetrics {
    static func render(_ states: [FeedState], now: Double = Date().timeIntervalSince1970) -> String {
        guard !states.isEmpty else { return "" }
        var lines = [
            "# HELP verdict_feed_entries Entries of each feed in the index.", "# TYPE verdict_feed_entries gauge",
        ]
        for state in states { lines.append("verdict_feed_entries{feed=\"\(state.name)\"} \(state.entryCount)") }
        lines += [
            "# HELP verdict_feed_age_seconds Age of each feed's last good copy.",
            "# TYPE verdict_feed_age_seconds gauge",
        ]
        for state in states {
            if let synced = state.syncedAt {
                lines.append("verdict_feed_age_seconds{feed=\"\(state.name)\"} \(max(0, Int(now - synced)))")
            }
        }
        lines += [
            "# HELP verdict_feed_failing Whether the feed's last sync failed (the last good copy is in use).",
            "# TYPE verdict_feed_failing gauge",
        ]
        for state in states {
            lines.append("verdict_feed_failing{feed=\"\(state.name)\"} \(state.lastError == nil ? 0 : 1)")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
