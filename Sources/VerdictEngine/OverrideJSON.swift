import VerdictCore

/// An override as the API and `verdict override list --json` show it.
public enum OverrideJSON {
    public static func object(_ override: AnalystOverride) -> JSONValue {
        .object([
            ("type", .string(override.indicator.type.rawValue)), ("value", .string(override.indicator.value)),
            ("verdict", .string(override.verdict.rawValue)), ("reason", override.reason.map(JSONValue.string) ?? .null),
            ("author", .string(override.author)), ("created_at", .number(String(Int(override.createdAt)))),
            ("expires_at", override.expiresAt.map { .number(String(Int($0))) } ?? .null),
        ])
    }
}
