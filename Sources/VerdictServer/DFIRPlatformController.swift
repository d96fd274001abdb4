import Foundation
import HTTPTypes
import Hummingbird
import VerdictCore
import VerdictEngine
import VerdictSources

/// `POST /api/v1/enrichment/lookup` in the hosted DFIR platform's own shapes (providers.md §14), so that its CLI
/// and the scripts written for it work against a self-hosted Verdict: its indicator types (`ip`, `domain`, `url`,
/// `hash`, `email`), at most 10 a request, its `data`/`meta` envelope and its verdicts (`clean` for harmless),
/// its error bodies and its `X-Credits-*` headers. The lookup, its credits and its history are a lookup's.
struct DFIRPlatformController: Sendable {
    let lookups: LookupController

    func lookup(_ request: Request, context: ServerRequestContext) async throws -> Response {
        guard let key = context.apiKey else { throw KeyAuthenticator.unknownKey() }
        try LookupController.requireJSON(request.headers)
        let settings = lookups.settings
        let body = try await LookupController.collectBody(
            request,
            limit: settings.maxBodyBytes,
            timeout: settings.bodyTimeout
        )
        let items = try Self.parse(body)
        let started = ContinuousClock.now
        let outcome = try await lookups.perform(
            LookupRequest(items: items.map { (indicator: $0.indicator, input: nil) }, sources: nil, refresh: false),
            key: key,
            context: context
        )
        let elapsed = ContinuousClock.now - started
        let enrichedAt = Self.timestamp(Date())
        var counts: [String: Int] = ["malicious": 0, "suspicious": 0, "clean": 0, "unknown": 0]
        var results: [JSONValue] = []
        for (position, report) in outcome.reports.enumerated() {
            let verdict = DFIRPlatform.word(for: report.verdict)
            counts[verdict, default: 0] += 1
            var providers: [(key: String, value: JSONValue)] = []
            for source in report.sources where source.status != .skipped {
                var details: JSONValue = source.details
                if let error = source.error { details = .object([("error", JSONValue.string(error))]) }
                providers.append(
                    (
                        source.source,
                        .object([
                            (
                                "verdict",
                                .string(
                                    source.status == .ok
                                        ? DFIRPlatform.word(for: source.verdict ?? .unknown) : "unknown"
                                )
                            ),
                            ("score", .number(String(source.score ?? 0))), ("details", details),
                        ])
                    )
                )
            }
            results.append(
                .object([
                    (
                        "indicator",
                        .object([
                            ("type", .string(items[position].dfirType)),
                            ("value", .string(items[position].indicator.value)),
                        ])
                    ),
                    ("verdict", .string(verdict)), ("score", .number(String(report.score))),
                    ("providers", .object(providers)), ("enriched_at", .string(enrichedAt)),
                ])
            )
        }
        let summary = JSONValue.object(
            [("total", .number(String(results.count)))]
                + ["malicious", "suspicious", "clean", "unknown"].map { ($0, .number(String(counts[$0] ?? 0))) }
        )
        var meta: [(key: String, value: JSONValue)] = [
            ("request_id", .string(context.requestID)), ("credits_used", .number(String(outcome.charged))),
            ("credits_remaining", outcome.remaining.map { .number(String($0)) } ?? .null),
            ("processing_time_ms", .number(String(elapsed.milliseconds))),
        ]
        if !outcome.warnings.isEmpty { meta.append(("warnings", .array(outcome.warnings.map(JSONValue.string)))) }
        var headers: HTTPFields = [:]
        headers[HTTPField.Name("X-Credits-Used")!] = String(outcome.charged)
        if let remaining = outcome.remaining { headers[HTTPField.Name("X-Credits-Remaining")!] = String(remaining) }
        return Response.json(
            .object([
                ("data", .object([("results", .array(results)), ("summary", summary)])), ("meta", .object(meta)),
            ]),
            headers: headers
        )
    }

    /// A value as the platform's client gave it, with our reading of it.
    struct Item {
        var indicator: Indicator
        var dfirType: String
    }

    static func parse(_ body: [UInt8]) throws(APIError) -> [Item] {
        let document: JSONValue
        do {
            document = try JSONValue(parsing: body)
        } catch {
            throw APIError.malformedJSON(error.description)
        }
        guard case .array(let entries)? = document["indicators"] else {
            throw APIError.invalidRequest(
                "the body must be {\"indicators\": [{\"type\": \"ip\", \"value\": \"185.220.101.42\"}]}"
            )
        }
        guard (1...DFIRPlatform.maxIndicators).contains(entries.count) else {
            throw APIError.invalidRequest(
                "give 1 to \(DFIRPlatform.maxIndicators) indicators; this request has \(entries.count)"
            )
        }
        var items: [Item] = []
        for (index, entry) in entries.enumerated() {
            guard let type = entry["type"]?.scalarText, DFIRPlatform.indicatorTypes.contains(type),
                let value = entry["value"]?.scalarText, !value.isEmpty, value.utf8.count <= 2048
            else {
                throw APIError.invalidRequest(
                    "indicators[\(index)] must be {\"type\": one of \(DFIRPlatform.indicatorTypes.joined(separator: ", ")), \"value\": a string of at most 2048 characters}"
                )
            }
            let parsed: Indicator
            do {
                parsed = try IndicatorParser.parse(value)
            } catch {
                throw APIError.invalidRequest("indicators[\(index)]: \"\(value.prefix(100))\" is not a valid \(type)")
            }
            guard DFIRPlatform.type(of: parsed.type) == type else {
                throw APIError.invalidRequest(
                    "indicators[\(index)]: \"\(value.prefix(100))\" is of type \(parsed.type.rawValue), not \(type)"
                )
            }
            items.append(Item(indicator: parsed, dfirType: type))
        }
        return items
    }

    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }

    /// An error in the platform's shape: `{"error": {"type", "code", "message", "request_id"}}`; its statuses (a
    /// value we cannot read is its 400 `invalid_request`).
    static func errorResponse(for error: APIError, requestID: String) -> Response {
        var status = error.status
        let type: String
        var code = error.code
        switch error.status.code {
        case 401:
            type = "authentication_error"
            code =
                switch error.code {
                case "missing_api_key": "missing_authorization"
                case "invalid_authorization": "invalid_authorization_format"
                default: "api_key_invalid"
                }
        case 402: type = "insufficient_credits"
        case 422:
            status = .badRequest
            type = "invalid_request"
        case 429:
            type = "rate_limit_exceeded"
            code = "rate_limit_exceeded"
        case 503: type = "service_unavailable"
        case 500: type = "internal_error"
        default: type = error.status.code < 500 ? "invalid_request" : "service_unavailable"
        }
        let body = JSONValue.object([
            (
                "error",
                .object([
                    ("type", .string(type)), ("code", .string(code)), ("message", .string(error.message)),
                    ("request_id", .string(requestID)),
                ])
            )
        ])
        return Response.json(body, status: status, headers: error.headers)
    }
}
