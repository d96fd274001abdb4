import HTTPTypes
import Hummingbird
import NIOCore
import VerdictCore

/// An error answer of the API: `{"error": {"code": …, "message": …, …}}` (docs/contracts.md §2) with its status.
/// The message says what was wrong and what to do; `fields` carry the details a client acts on.
public struct APIError: Error, Sendable, HTTPResponseError {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    /// Extra members of the `error` object (which indicators were invalid, credits required and left).
    public var fields: [(key: String, value: JSONValue)]
    public var headers: HTTPFields

    public init(
        _ status: HTTPResponse.Status,
        code: String,
        message: String,
        fields: [(key: String, value: JSONValue)] = [],
        headers: HTTPFields = [:]
    ) {
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields
        self.headers = headers
    }

    public var body: JSONValue {
        .object([("error", .object([("code", .string(code)), ("message", .string(message))] + fields))])
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        Response.json(body, status: status, headers: headers)
    }
}

extension APIError {
    static let paymentRequired = HTTPResponse.Status(code: 402, reasonPhrase: "Payment Required")

    static func malformedJSON(_ detail: String) -> APIError {
        APIError(
            .badRequest,
            code: "malformed_json",
            message:
                "the body is not valid JSON (\(detail)); send a JSON object such as {\"indicators\": [\"1.2.3.4\"]}"
        )
    }

    static func invalidRequest(_ message: String) -> APIError {
        APIError(.badRequest, code: "invalid_request", message: message)
    }

    static func unprocessable(_ code: String, _ message: String, fields: [(key: String, value: JSONValue)] = [])
        -> APIError
    {
        APIError(.unprocessableContent, code: code, message: message, fields: fields)
    }

    static func storeUnavailable() -> APIError {
        APIError(
            .serviceUnavailable,
            code: "store_unavailable",
            message: "the key and credit store is not answering; nothing was looked up or charged, try again shortly",
            headers: [.retryAfter: "5"]
        )
    }
}

extension Response {
    /// A JSON response written with VerdictCore's writer: key order kept, no Foundation encoder on the hot path.
    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var writer = JSONWriter()
        writer.value(value)
        return json(bytes: writer.bytes, status: status, headers: headers)
    }

    static func json(bytes: [UInt8], status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        return Response(
            status: status,
            headers: fields,
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes))
        )
    }
}
