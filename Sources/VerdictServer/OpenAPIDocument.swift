import VerdictCore

/// The OpenAPI 3.1 description of the API (`Console/openapi.json`), served at `/openapi.json`. Tests check it
/// against the real answers (every route, every status code, the shape of every body), so change both together.
/// Its `info.version` is `VERDICT_VERSION` in the file and `verdictVersion` when served: the version lives in one place.
enum OpenAPIDocument {
    static let json = String(decoding: PackageResources.openapi_json, as: UTF8.self)
        .replacing("\"VERDICT_VERSION\"", with: "\"\(verdictVersion)\"", maxReplacements: 1)
}
