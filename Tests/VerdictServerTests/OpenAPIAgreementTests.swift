import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Synchronization
import Testing
import VerdictCore
import VerdictEngine
import VerdictSQLite
import VerdictSources
import VerdictStore
import VerdictTestSupport

@testable import VerdictServer

/// `/openapi.json` and the server agree: every documented operation answers, every status the server
/// gives is documented for its operation and every documented one is produced, and every JSON body
/// matches its documented schema.
struct OpenAPIAgreementTests {
    /// One answer the server gave: through the test client, or read off a raw socket.
    struct Observation: Sendable {
        var path: String
        var method: String
        var status: Int
        /// Lowercased names.
        var headers: [String: String]
        var body: String

        init(path: String, method: String, response: TestResponse) {
            self.path = path
            self.method = method
            status = Int(response.status.code)
            headers = Dictionary(response.headers.map { ($0.name.rawName.lowercased(), $0.value) }) { first, _ in first
            }
            body = String(buffer: response.body)
        }

        init(path: String, method: String, answer: RawHTTPConnection.Answer) {
            self.path = path
            self.method = method
            status = answer.status
            headers = answer.headers
            body = answer.body
        }
    }

    /// What the test clients saw, gathered from their (concurrent-safe) closures.
    final class Log: Sendable {
        let entries = Mutex<[Observation]>([])

        func append(_ observation: Observation) { entries.withLock { $0.append(observation) } }
    }

    /// Request bodies: what the document allows the server takes, and what the server refuses as content the
    /// document refuses too.
    @Test func theRequestSchemaAgreesWithTheServer() async throws {
        let document = try JSONValue(parsing: OpenAPIDocument.json)
        let validator = SchemaValidator(document: document)
        let schema = JSONValue.object([("$ref", .string("#/components/schemas/LookupRequest"))])
        try await ServerHarness.with { harness, _ in
            let key = try await harness.key(plan: .starter)
            try await harness.application { $0.keyRateLimit = nil }.test(.router) { client in
                let cases: [(body: String, accepted: Bool)] = [
                    (#"{"indicators": ["185.220.101.4"], "refresh": null, "sources": null}"#, true),
                    (#"{"indicators": [{"type": "ipv4", "value": "185.220.101.4"}], "refresh": false}"#, true),
                    (#"{"indicators": [""]}"#, false),
                    (#"{"indicators": ["   "]}"#, false),
                    (#"{"indicators": [{"type": "ipv4", "value": ""}]}"#, false),
                    (#"{"indicators": []}"#, false),
                ]
                for item in cases {
                    let problems = validator.problems(try JSONValue(parsing: item.body), against: schema, at: "$")
                    #expect(problems.isEmpty == item.accepted, "document on \(item.body): \(problems)")
                    let response = try await client.lookup(item.body, key: key)
                    #expect((response.status == .ok) == item.accepted, "server on \(item.body): \(response.text)")
                }
            }
        }
    }

    @Test func theDocumentDescribesWhatTheServerDoes() async throws {
        let observed = Log()

        try await ServerHarness.with { harness, _ in
            let key = try await harness.key("soc1", plan: .free, credits: 3)
            try await harness.application { $0.keyRateLimit = nil }.test(.router) { client in
                let doc = try await client.get("/openapi.json")
                observed.append(Observation(path: "/openapi.json", method: "get", response: doc))
                func lookup(_ body: String, key: String?, contentType: String? = "application/json") async throws {
                    let response = try await client.lookup(body, key: key, contentType: contentType)
                    observed.append(Observation(path: "/v1/enrichment/lookup", method: "post", response: response))
                }
                try await lookup(
                    #"{"indicators": ["185.220.101.4", "10.1.1.1", "d41d8cd98f00b204e9800998ecf8427e"]}"#,
                    key: key
                )
                try await lookup(#"{"indicators": ["185.220.101.9"]}"#, key: key)  // 402: the 3 credits are spent
                try await lookup("{", key: key)
                try await lookup(#"{"indicators": ["x"]}"#, key: key)
                try await lookup(#"{"indicators": ["185.220.101.4"]}"#, key: nil)
                try await lookup(#"{"indicators": ["185.220.101.4"]}"#, key: key, contentType: "text/plain")
                let huge = try await client.execute(
                    uri: "/v1/enrichment/lookup",
                    method: .post,
                    headers: [.authorization: "Bearer \(key)", .contentType: "application/json"],
                    body: ByteBuffer(repeating: UInt8(ascii: " "), count: 2 << 20)
                )
                observed.append(Observation(path: "/v1/enrichment/lookup", method: "post", response: huge))
                for path in ["/v1/usage", "/v1/health", "/v1/ready", "/metrics", "/", "/favicon.ico"] {
                    let response = try await client.get(path, key: path == "/v1/usage" ? key : nil)
                    observed.append(Observation(path: path, method: "get", response: response))
                }
                observed.append(
                    Observation(path: "/v1/usage", method: "get", response: try await client.get("/v1/usage"))
                )
                // Overrides: only admin keys set them.
                let admin = try await harness.key("admin", plan: .enterprise)
                func overrides(_ method: HTTPRequest.Method, _ uri: String, key: String?, body: String? = nil)
                    async throws
                {
                    var headers: HTTPFields = [.contentType: "application/json"]
                    if let key { headers[.authorization] = "Bearer \(key)" }
                    let response = try await client.execute(
                        uri: uri,
                        method: method,
                        headers: headers,
                        body: body.map { ByteBuffer(string: $0) }
                    )
                    let path = uri.hasPrefix("/v1/overrides/") ? "/v1/overrides/{type}/{value}" : "/v1/overrides"
                    observed.append(Observation(path: path, method: method.rawValue.lowercased(), response: response))
                }
                let confirmed =
                    #"{"indicator": "45.155.205.80", "verdict": "malicious", "reason": "confirmed C2", "expires": "30d"}"#
                try await overrides(.post, "/v1/overrides", key: admin, body: confirmed)
                try await overrides(
                    .post,
                    "/v1/overrides",
                    key: admin,
                    body: #"{"indicator": "45.155.205.80", "verdict": "bad"}"#
                )
                try await overrides(.post, "/v1/overrides", key: admin, body: "[1]")
                try await overrides(.post, "/v1/overrides", key: key, body: confirmed)
                try await overrides(.post, "/v1/overrides", key: nil, body: confirmed)
                try await overrides(.get, "/v1/overrides", key: admin)
                try await overrides(.get, "/v1/overrides", key: key)
                try await overrides(.get, "/v1/overrides", key: nil)
                try await overrides(.delete, "/v1/overrides/ipv4/45.155.205.80", key: admin)
                try await overrides(.delete, "/v1/overrides/ipv4/45.155.205.80", key: admin)
                try await overrides(.delete, "/v1/overrides/ipv4/not-an-address", key: admin)
                try await overrides(.delete, "/v1/overrides/ipv4/45.155.205.80", key: key)
                try await overrides(.delete, "/v1/overrides/ipv4/45.155.205.80", key: nil)

                // The console's routes: extraction (free), the sources, the key's history.
                func console(
                    _ method: HTTPRequest.Method,
                    _ uri: String,
                    key: String?,
                    body: String? = nil,
                    contentType: String? = "application/json"
                ) async throws {
                    var headers: HTTPFields = [:]
                    if let contentType { headers[.contentType] = contentType }
                    if let key { headers[.authorization] = "Bearer \(key)" }
                    let response = try await client.execute(
                        uri: uri,
                        method: method,
                        headers: headers,
                        body: body.map { ByteBuffer(string: $0) }
                    )
                    let path = String(uri.split(separator: "?").first ?? "")
                    observed.append(Observation(path: path, method: method.rawValue.lowercased(), response: response))
                }
                let alert =
                    #"{"alert": {"rule": {"id": "5760"}, "data": {"srcip": "185.220.101.4", "dstip": "10.0.0.5"}}}"#
                try await console(.post, "/v1/extract", key: key, body: alert)
                try await console(.post, "/v1/extract", key: key, body: #"{"text": "seen: 185.220.101[.]4, 10.1.1.1"}"#)
                try await console(.post, "/v1/extract", key: key, body: #"{"indicators": ["185.220.101.4"]}"#)
                try await console(.post, "/v1/extract", key: key, body: #"{"indicators": ["x"]}"#)
                try await console(.post, "/v1/extract", key: key, body: #"{"text": "a", "alert": {}}"#)
                try await console(.post, "/v1/extract", key: key, body: "[1]")
                try await console(.post, "/v1/extract", key: nil, body: #"{"text": "a"}"#)
                try await console(.post, "/v1/extract", key: key, body: #"{"text": "a"}"#, contentType: "text/plain")
                try await console(
                    .post,
                    "/v1/extract",
                    key: key,
                    body: #"{"text": ""# + String(repeating: "a", count: 2 << 20) + #""}"#
                )
                try await console(.get, "/v1/sources", key: key, contentType: nil)
                try await console(.get, "/v1/sources", key: nil, contentType: nil)
                try await console(.get, "/v1/history", key: key, contentType: nil)
                try await console(.get, "/v1/history?limit=1", key: key, contentType: nil)
                try await console(.get, "/v1/history?limit=none", key: key, contentType: nil)
                try await console(.get, "/v1/history", key: nil, contentType: nil)
                // The DFIR platform's route, in its own shapes.
                let platformKey = try await harness.key("dfir-client", plan: .starter)
                let platformBody = #"{"indicators": [{"type": "ip", "value": "185.220.101.4"}]}"#
                try await console(.post, "/api/v1/enrichment/lookup", key: platformKey, body: platformBody)
                try await console(.post, "/api/v1/enrichment/lookup", key: platformKey, body: #"{"indicators": []}"#)
                try await console(.post, "/api/v1/enrichment/lookup", key: nil, body: platformBody)
                try await console(
                    .post,
                    "/api/v1/enrichment/lookup",
                    key: key,
                    body: #"{"indicators": [{"type": "ip", "value": "185.220.101.77"}]}"#
                )
                try await console(
                    .post,
                    "/api/v1/enrichment/lookup",
                    key: platformKey,
                    body: platformBody,
                    contentType: "text/plain"
                )
                for asset in ["/console.css", "/console.js"] {
                    observed.append(Observation(path: asset, method: "get", response: try await client.get(asset)))
                }

                try harness.database.writer.close()
                try await console(.get, "/v1/history", key: key, contentType: nil)
                try await overrides(.post, "/v1/overrides", key: admin, body: confirmed)
                try await overrides(.get, "/v1/overrides", key: admin)
                try await overrides(.delete, "/v1/overrides/ipv4/45.155.205.80", key: admin)
                try await lookup(#"{"indicators": ["185.220.101.11"]}"#, key: key)
                for path in ["/v1/ready", "/v1/usage"] {
                    let response = try await client.get(path, key: path == "/v1/usage" ? key : nil)
                    observed.append(Observation(path: path, method: "get", response: response))
                }
            }
        }
        try await ServerHarness.with(abuseIPDB: .hang) { harness, _ in
            let key = try await harness.key("slow", plan: .starter)
            let app = harness.application {
                $0.requestTimeout = .milliseconds(200)
                $0.keyRateLimit = RateWindowLimit(limit: 1, seconds: 60)
            }
            try await app.test(.router) { client in
                let slow = try await client.lookup(#"{"indicators": ["185.220.101.4"]}"#, key: key)
                observed.append(Observation(path: "/v1/enrichment/lookup", method: "post", response: slow))
                let limited = try await client.lookup(#"{"indicators": ["185.220.101.4"]}"#, key: key)
                observed.append(Observation(path: "/v1/enrichment/lookup", method: "post", response: limited))
                let limitedUsage = try await client.get("/v1/usage", key: key)
                observed.append(Observation(path: "/v1/usage", method: "get", response: limitedUsage))
                for path in ["/v1/sources", "/v1/history"] {
                    observed.append(
                        Observation(path: path, method: "get", response: try await client.get(path, key: key))
                    )
                }
                for (path, body) in [
                    ("/api/v1/enrichment/lookup", #"{"indicators": [{"type": "ip", "value": "185.220.101.4"}]}"#),
                    ("/v1/extract", #"{"text": "185.220.101.4"}"#),
                ] {
                    let limited = try await client.execute(
                        uri: path,
                        method: .post,
                        headers: [.authorization: "Bearer \(key)", .contentType: "application/json"],
                        body: ByteBuffer(string: body)
                    )
                    observed.append(Observation(path: path, method: "post", response: limited))
                }
            }
        }

        // What only a real connection shows: a body that never arrives, and the in-flight caps.
        try await ServerHarness.with { harness, _ in
            let key = try await harness.key("slow-body", plan: .starter)
            let app = harness.application {
                $0.bodyTimeout = .seconds(5)
                $0.maxInFlightPerKey = 1
                $0.maxInFlight = 2
                $0.keyRateLimit = nil
            }
            let other = try await harness.key("other", plan: .starter)
            try await app.test(.live) { client in
                let port = try #require(client.port)
                func stall(_ key: String) async throws -> RawHTTPConnection {
                    try await RawHTTPConnection.stalledLookup(port: port, key: key, declaredLength: 500, body: "{")
                }
                let held = try await stall(key)
                let overKey = try await stall(key)
                let heldOther = try await stall(other)
                let overAll = try RawHTTPConnection(port: port)
                try overAll.send("GET /v1/usage HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(other)\r\n\r\n")
                for (connection, path, method) in [
                    (overKey, "/v1/enrichment/lookup", "post"), (overAll, "/v1/usage", "get"),
                    (held, "/v1/enrichment/lookup", "post"), (heldOther, "/v1/enrichment/lookup", "post"),
                ] {
                    let answer = try await RawHTTPConnection.offPool { try connection.readAnswer() }
                    observed.append(Observation(path: path, method: method, answer: answer))
                }
            }
        }

        let observations = observed.entries.withLock { $0 }
        guard let documentResponse = observations.first(where: { $0.path == "/openapi.json" }) else {
            Issue.record("no document")
            return
        }
        let document = try JSONValue(parsing: documentResponse.body)
        #expect(document["openapi"] == .string("3.1.0"))
        #expect(document["info"]?["version"] == .string(verdictVersion))
        let validator = SchemaValidator(document: document)
        var produced: Set<String> = []
        for observation in observations {
            let status = String(observation.status)
            let operation = "\(observation.method.uppercased()) \(observation.path)"
            produced.insert("\(operation) \(status)")
            guard let documented = document["paths"]?[observation.path]?[observation.method] else {
                Issue.record("\(operation) is not in the document")
                continue
            }
            guard var response = documented["responses"]?[status] else {
                Issue.record("\(operation) answered \(status), which the document does not list")
                continue
            }
            response = validator.resolve(response)
            let contentType = observation.headers["content-type"] ?? ""
            let mediaType = String(contentType.split(separator: ";").first ?? "")
            guard let schema = response["content"]?[mediaType]?["schema"] else {
                Issue.record("\(operation) \(status): \(mediaType) is not documented")
                continue
            }
            if mediaType == "application/json" {
                let body = try JSONValue(parsing: observation.body)
                let problems = validator.problems(body, against: schema, at: "$")
                #expect(problems.isEmpty, "\(operation) \(status): \(problems)")
            }
            if case .object(let headers)? = response["headers"] {
                for (name, _) in headers where name != "X-Request-Id" {
                    #expect(
                        observation.headers[name.lowercased()] != nil,
                        "\(operation) \(status) lacks \(name)"
                    )
                }
            }
        }

        var documentedStatuses: Set<String> = []
        if case .object(let paths)? = document["paths"] {
            for (path, item) in paths {
                guard case .object(let operations) = item else { continue }
                for (method, operation) in operations {
                    guard case .object(let responses)? = operation["responses"] else { continue }
                    for (status, _) in responses {
                        documentedStatuses.insert("\(method.uppercased()) \(path) \(status)")
                    }
                }
            }
        }
        #expect(documentedStatuses.subtracting(produced).sorted() == [], "documented but never produced")

        // The table the 405 answers come from names exactly the documented operations.
        var documentedOperations: Set<String> = []
        for status in documentedStatuses {
            documentedOperations.insert(status.split(separator: " ").prefix(2).joined(separator: " "))
        }
        let routed = Set(
            AccessMiddleware.routeMethods.flatMap { path, methods in methods.map { "\($0.rawValue) \(path)" } }
        )
        #expect(routed == documentedOperations)
        // The source names a request may give are the catalog's, in its order.
        let names = document["components"]?["schemas"]?["SourceName"]?["enum"]?.items.compactMap(\.scalarText)
        #expect(names == SourceCatalog.names)
    }
}

/// Enough of JSON Schema (2020-12, as OpenAPI 3.1 uses it) for our document: $ref, type (one or several),
/// required, properties, additionalProperties false, items, enum, oneOf, minimum, maximum, minItems, maxItems,
/// minLength, pattern.
struct SchemaValidator {
    let document: JSONValue

    func resolve(_ value: JSONValue) -> JSONValue {
        guard case .string(let reference)? = value["$ref"] else { return value }
        var target: JSONValue? = document
        for part in reference.dropFirst(2).split(separator: "/") { target = target?[String(part)] }
        return target.map(resolve) ?? .null
    }

    func problems(_ value: JSONValue, against rawSchema: JSONValue, at path: String) -> [String] {
        let schema = resolve(rawSchema)
        var found: [String] = []
        if case .array(let options)? = schema["oneOf"] {
            let matching = options.filter { problems(value, against: $0, at: path).isEmpty }
            if matching.count != 1 { found.append("\(path): matches \(matching.count) of oneOf") }
        }
        if let type = schema["type"] {
            let allowed = type.items.isEmpty ? [type.scalarText ?? ""] : type.items.compactMap(\.scalarText)
            if !allowed.contains(where: { Self.matches(value, type: $0) }) {
                found.append("\(path): not \(allowed.joined(separator: "|"))")
                return found
            }
        }
        if case .array(let choices)? = schema["enum"], !choices.contains(value) {
            found.append("\(path): \(value) not in enum")
        }
        if let minimum = schema["minimum"]?.scalarText.flatMap(Double.init),
            let number = value.scalarText.flatMap(Double.init),
            case .number = value, number < minimum
        {
            found.append("\(path): below \(minimum)")
        }
        if let maximum = schema["maximum"]?.scalarText.flatMap(Double.init),
            let number = value.scalarText.flatMap(Double.init),
            case .number = value, number > maximum
        {
            found.append("\(path): above \(maximum)")
        }
        if case .string(let text) = value {
            if let minimum = schema["minLength"]?.int, text.count < minimum { found.append("\(path): too short") }
            if let pattern = schema["pattern"]?.scalarText, text.range(of: pattern, options: .regularExpression) == nil
            {
                found.append("\(path): does not match \(pattern)")
            }
        }
        if case .object(let fields) = value {
            for required in schema["required"]?.items.compactMap(\.scalarText) ?? []
            where !fields.contains(where: { $0.key == required }) {
                found.append("\(path): no \(required)")
            }
            for (name, member) in fields {
                if let property = schema["properties"]?[name] {
                    found += problems(member, against: property, at: "\(path).\(name)")
                } else if schema["additionalProperties"] == .bool(false) {
                    found.append("\(path): unexpected \(name)")
                }
            }
        }
        if case .array(let elements) = value {
            if let minimum = schema["minItems"]?.int, elements.count < minimum {
                found.append("\(path): too few items")
            }
            if let maximum = schema["maxItems"]?.int, elements.count > maximum {
                found.append("\(path): too many items")
            }
            if let itemSchema = schema["items"] {
                for (index, element) in elements.enumerated() {
                    found += problems(element, against: itemSchema, at: "\(path)[\(index)]")
                }
            }
        }
        return found
    }

    static func matches(_ value: JSONValue, type: String) -> Bool {
        switch (type, value) {
        case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("null", .null),
            ("number", .number):
            return true
        case ("integer", .number(let text)):
            return Int(text) != nil
        default:
            return false
        }
    }
}
