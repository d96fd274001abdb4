import Hummingbird
import VerdictCore
import VerdictEngine

/// `POST /v1/extract`: what a lookup of a text, an alert or a list would ask, and what it would leave out and
/// why, before any credit is spent. The same extractor and answer as `verdict extract`; free.
struct ExtractController: Sendable {
    let extractor: IndicatorExtractor
    let settings: ServerSettings
    let offSources: [String: String]

    init(suppressor: Suppressor, settings: ServerSettings, offSources: [String: String]) {
        // A lookup takes at most `maxIndicators` values: more of one type are counted in `dropped`.
        self.extractor = IndicatorExtractor(suppressor: suppressor, maxPerType: settings.maxIndicators)
        self.settings = settings
        self.offSources = offSources
    }

    func extract(_ request: Request, context: ServerRequestContext) async throws -> Response {
        guard context.apiKey != nil else { throw KeyAuthenticator.unknownKey() }
        try LookupController.requireJSON(request.headers)
        let body = try await LookupController.collectBody(
            request,
            limit: settings.maxBodyBytes,
            timeout: settings.bodyTimeout
        )
        let result = try extraction(of: body)
        return Response.json(bytes: Array(result.jsonLine().utf8))
    }

    func extraction(of body: [UInt8]) throws(APIError) -> ExtractionResult {
        let document: JSONValue
        do {
            document = try JSONValue(parsing: body)
        } catch {
            throw APIError.malformedJSON(error.description)
        }
        guard case .object(let members) = document else {
            throw APIError.invalidRequest(
                "the body must be a JSON object: {\"text\": \"…\"}, {\"alert\": {…}} or {\"indicators\": […]}, not \(document.kindName)"
            )
        }
        let given = members.map(\.key)
        if given == ["text"] {
            guard case .string(let text) = document["text"] else {
                throw APIError.invalidRequest("\"text\" must be a string")
            }
            return extractor.extract(text: text)
        }
        if given == ["alert"] {
            guard case .object = document["alert"] else {
                throw APIError.invalidRequest("\"alert\" must be a Wazuh alert, a JSON object")
            }
            return extractor.extract(alert: document["alert"]!)
        }
        if given.contains("indicators"), !given.contains("text"), !given.contains("alert") {
            // A lookup's own body: its values, checked as a lookup checks them.
            let lookup = try LookupRequest.parse(body, maxIndicators: settings.maxIndicators, offSources: offSources)
            return extractor.extract(values: lookup.items.map(\.indicator))
        }
        throw APIError.unprocessable(
            "unknown_member",
            "give exactly one of \"text\" (any text), \"alert\" (a Wazuh alert) or a lookup's \"indicators\"; got \(given.joined(separator: ", "))"
        )
    }
}
