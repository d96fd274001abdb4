import Foundation
import Hummingbird
import VerdictCore
import VerdictEngine
import VerdictSources

/// `GET /v1/sources`: every source, on or off and why; for those on, the shared state every process on the
/// store sees (circuit, calls left in each window, the provider's own quota); and this server's cache hit ratio.
struct SourcesController: Sendable {
    let engine: EnrichmentEngine
    let offSources: [String: String]
    let metrics: ServerMetrics

    func list(context: ServerRequestContext) async throws -> Response {
        guard context.apiKey != nil else { throw KeyAuthenticator.unknownKey() }
        var entries: [JSONValue] = []
        for governor in engine.governors {
            entries.append(await Self.entry(for: governor))
        }
        for (name, reason) in offSources.sorted(by: { $0.key < $1.key }) {
            entries.append(.object([("name", .string(name)), ("on", .bool(false)), ("reason", .string(reason))]))
        }
        let (hits, total) = metrics.cacheLookups
        return Response.json(
            .object([
                ("sources", .array(entries)),
                (
                    "cache",
                    .object([
                        ("lookups", .number(String(total))), ("hits", .number(String(hits))),
                        ("hit_ratio", total == 0 ? .null : .number(String(Double(hits) / Double(total)))),
                    ])
                ),
            ])
        )
    }

    static func entry(for governor: SourceGovernor) async -> JSONValue {
        let source = governor.source
        var fields: [(key: String, value: JSONValue)] = [
            ("name", .string(source.name)), ("on", .bool(true)), ("external", .bool(source.isExternal)),
            ("deadline_ms", .number(String(governor.policy.deadline.milliseconds))),
            ("types", .array(source.supportedTypes.map(\.rawValue).sorted().map(JSONValue.string))),
        ]
        guard source.isExternal else { return .object(fields) }
        guard let status = await governor.budgetStatus() else {
            fields.append(("circuit", .string("unknown")))
            fields.append(("error", .string("the shared source state cannot be read from the store now")))
            return .object(fields)
        }
        func time(_ seconds: Double?) -> JSONValue { seconds.map { .string(isoDate(unixSeconds: Int($0))) } ?? .null }
        fields.append(("circuit", .string(status.circuit)))
        fields.append(("failures", .number(String(status.failures))))
        fields.append(("open_until", time(status.openUntil)))
        fields.append(("blocked_until", time(status.blockedUntil)))
        fields.append(
            (
                "windows",
                .array(
                    status.windows.map { window in
                        .object([
                            ("limit", .number(String(window.window.limit))),
                            ("seconds", .number(String(window.window.seconds))),
                            ("left", .number(String(window.left))), ("resets_at", time(window.resetsAt)),
                        ])
                    }
                )
            )
        )
        if let quota = status.providerQuota {
            fields.append(
                (
                    "provider_quota",
                    .object([
                        ("limit", quota.limit.map { .number(String($0)) } ?? .null),
                        ("remaining", .number(String(quota.remaining))), ("resets_at", time(quota.resetsAt)),
                    ])
                )
            )
        }
        return .object(fields)
    }
}
