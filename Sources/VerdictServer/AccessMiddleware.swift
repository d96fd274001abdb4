import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Synchronization
import VerdictStore

/// The front door of every request: the API key (for the routes that need one) and its rate limit, JSON
/// error bodies for every failure, the `X-Request-Id` header, one access-log line and the request metrics.
/// One middleware, because the log line and the metrics need the key and the final status together.
struct AccessMiddleware: RouterMiddleware {
    typealias Context = ServerRequestContext

    /// Routes that need a key: those that spend or show a key's credits, and `/metrics` when the setting says.
    let keyedPaths: Set<String>
    let authenticator: KeyAuthenticator
    let limiter: KeyRateLimiter
    let usage: UsageRecorder
    let metrics: ServerMetrics
    let inFlight: InFlightLimiter

    static let requestIDHeader = HTTPField.Name("X-Request-Id")!
    /// On every answer: the page runs only its own script and style files, talks only to this server, and
    /// cannot be framed; no answer is sniffed as another type.
    static let securityHeaders: [(HTTPField.Name, String)] = [
        (.contentSecurityPolicy, WebPage.contentSecurityPolicy),
        (HTTPField.Name("X-Content-Type-Options")!, "nosniff"),
        (HTTPField.Name("X-Frame-Options")!, "DENY"),
        (HTTPField.Name("Referrer-Policy")!, "no-referrer"),
    ]
    static let knownMethods: Set<HTTPRequest.Method> = [.get, .head, .post, .put, .patch, .delete, .options]
    /// Every route's methods, so that a known path asked with another method gets 405 and `Allow` (the router
    /// itself only knows "no route"). A test checks it against the router and the OpenAPI document.
    static let routeMethods: [String: [HTTPRequest.Method]] = [
        "/v1/enrichment/lookup": [.post], "/v1/usage": [.get], "/v1/health": [.get], "/v1/ready": [.get],
        "/metrics": [.get], "/openapi.json": [.get], "/": [.get], "/favicon.ico": [.get],
        "/v1/overrides": [.get, .post], "/v1/overrides/{type}/{value}": [.delete], "/v1/extract": [.post],
        "/v1/sources": [.get], "/v1/history": [.get], "/console.css": [.get], "/console.js": [.get],
        "/api/v1/enrichment/lookup": [.post],
    ]

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let clock = ContinuousClock()
        let started = clock.now
        var context = context
        var response: Response
        do {
            // The router takes `/v1/usage/` for `/v1/usage`, so the tables do too. A wrong method needs no key: it
            // gets its 405 from the router.
            let path = Self.routePath(request.uri.path)
            if keyedPaths.contains(path), Self.routeMethods[path]?.contains(request.method) == true {
                let key = try await authenticator.authenticate(request)
                context.apiKey = key
                try limiter.admit(key)
                // A slow client holds its place until its body arrives or times out: the caps bound how many
                // places one key, and everyone, can hold.
                try inFlight.enter(key.id)
                defer { inFlight.leave(key.id) }
                response = try await next(request, context)
            } else {
                response = try await next(request, context)
            }
        } catch let error as APIError {
            // The DFIR platform's route answers its errors in the platform's shape.
            response =
                request.uri.path.hasPrefix("/api/v1/")
                ? DFIRPlatformController.errorResponse(for: error, requestID: context.requestID)
                : Response.json(error.body, status: error.status, headers: error.headers)
        } catch let error as any HTTPResponseError {
            response = Self.response(for: error, request: request)
        } catch {
            context.logger.error(
                "request failed",
                metadata: ["error.message": "\(error)", "request_id": "\(context.requestID)"]
            )
            let failure = APIError(
                .internalServerError,
                code: "internal_error",
                message: "the server failed on this request (request id \(context.requestID)); it has been logged"
            )
            response = Response.json(failure.body, status: failure.status)
        }
        response.headers[Self.requestIDHeader] = context.requestID
        for (name, value) in Self.securityHeaders { response.headers[name] = value }

        let elapsed = clock.now - started
        let route = context.endpointPath ?? "unmatched"
        // Any token is a method to HTTP; only the usual ones become metric labels.
        let method = Self.knownMethods.contains(request.method) ? request.method.rawValue : "other"
        metrics.recordRequest(
            route: route,
            method: method,
            status: response.status.code,
            duration: elapsed
        )
        if let key = context.apiKey { usage.add(.init(requests: 1), keyID: key.id, at: Date()) }
        var metadata: Logger.Metadata = [
            "http.method": "\(request.method.rawValue)", "http.route": "\(route)",
            "http.status": "\(response.status.code)", "latency_ms": "\(Self.milliseconds(elapsed))",
            "request_id": "\(context.requestID)",
        ]
        if let key = context.apiKey { metadata["verdict.key.name"] = "\(key.name)" }
        context.logger.info("request", metadata: metadata)
        return response
    }

    /// The path as the route tables name it: no trailing slash (but for `/`).
    static func routePath(_ path: String) -> String {
        let trimmed = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        if trimmed.hasPrefix("/v1/overrides/") && trimmed.split(separator: "/").count == 4 {
            return "/v1/overrides/{type}/{value}"
        }
        return trimmed
    }

    static func milliseconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let value = Double(seconds) * 1000 + Double(attoseconds) / 1e15
        return String(format: "%.2f", value)
    }

    /// Hummingbird's own errors (no route, body too large) in the API's JSON shape.
    static func response(for error: any HTTPResponseError, request: Request) -> Response {
        var status = error.status
        var headers = (error as? HTTPError)?.headers ?? [:]
        if status == .notFound, let allowed = routeMethods[routePath(request.uri.path)] {
            status = .methodNotAllowed
            headers[.allow] = allowed.map(\.rawValue).joined(separator: ", ")
        }
        let (code, message): (String, String)
        switch status {
        case .notFound:
            (code, message) = (
                "not_found", "no route \(request.method.rawValue) \(request.uri.path); see /openapi.json"
            )
        case .methodNotAllowed:
            (code, message) = (
                "method_not_allowed",
                "\(request.uri.path) does not take \(request.method.rawValue); it takes \(headers[.allow] ?? "other methods"). See /openapi.json"
            )
        case .contentTooLarge:
            (code, message) = ("body_too_large", "the body is too large")
        default:
            (code, message) = (
                status.reasonPhrase.lowercased().replacingOccurrences(of: " ", with: "_"), status.reasonPhrase
            )
        }
        let failure = APIError(status, code: code, message: message, headers: headers)
        return Response.json(failure.body, status: status, headers: headers)
    }
}

/// Requests in flight on the keyed routes, in all and per key.
final class InFlightLimiter: Sendable {
    let total: Int
    let perKey: Int
    private let counts = Mutex<(total: Int, perKey: [Int64: Int])>((0, [:]))

    init(total: Int, perKey: Int) {
        self.total = total
        self.perKey = perKey
    }

    func enter(_ keyID: Int64) throws(APIError) {
        let refusal: APIError? = counts.withLock { counts in
            if counts.total >= total {
                return APIError(
                    .serviceUnavailable,
                    code: "server_busy",
                    message: "the server has \(total) requests in hand (server.max_in_flight); retry in a second",
                    headers: [.retryAfter: "1"]
                )
            }
            if counts.perKey[keyID, default: 0] >= perKey {
                return APIError(
                    .tooManyRequests,
                    code: "too_many_in_flight",
                    message:
                        "this key has \(perKey) requests in hand (server.max_in_flight_per_key); wait for them, then retry",
                    headers: [.retryAfter: "1"]
                )
            }
            counts.total += 1
            counts.perKey[keyID, default: 0] += 1
            return nil
        }
        if let refusal { throw refusal }
    }

    func leave(_ keyID: Int64) {
        counts.withLock { counts in
            counts.total -= 1
            counts.perKey[keyID, default: 1] -= 1
            if counts.perKey[keyID] == 0 { counts.perKey[keyID] = nil }
        }
    }
}
