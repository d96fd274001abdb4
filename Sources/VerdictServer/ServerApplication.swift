import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceLifecycle
import VerdictCore
import VerdictEngine
import VerdictSources
import VerdictStore

/// What the server is built from: the engine, the key/credit store and the limits.
public struct ServerComponents: Sendable {
    public var engine: EnrichmentEngine
    public var accounts: any AccountStore
    public var settings: ServerSettings
    /// Sources that are configured off, and why (a request naming one is told).
    public var offSources: [String: String]
    /// Where `POST /v1/overrides` keeps overrides; nil answers those routes 503.
    public var overrides: (any OverrideStore)?
    /// The feed index, for `/metrics`.
    public var feeds: (any FeedStore)?
    /// Each key's recent lookups (`GET /v1/history`); nil keeps none.
    public var history: (any LookupHistoryStore)?

    public init(
        engine: EnrichmentEngine,
        accounts: any AccountStore,
        settings: ServerSettings = ServerSettings(),
        offSources: [String: String] = [:],
        overrides: (any OverrideStore)? = nil,
        feeds: (any FeedStore)? = nil,
        history: (any LookupHistoryStore)? = nil
    ) {
        self.engine = engine
        self.accounts = accounts
        self.settings = settings
        self.offSources = offSources
        self.overrides = overrides
        self.feeds = feeds
        self.history = history
    }
}

/// The Verdict HTTP API (docs/contracts.md §2) as a Hummingbird application: run it with `runService()` (SIGTERM and
/// SIGINT drain in-flight requests, then the last usage counts are written), or test it with `test(.router)`.
public func buildApplication(
    _ components: ServerComponents,
    host: String = "127.0.0.1",
    port: Int = 8080,
    logger: Logger,
    services: [any Service] = [],
    onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
) -> some ApplicationProtocol {
    let usage = UsageRecorder(
        accounts: components.accounts,
        logger: logger,
        limiter: KeyRateLimiter(
            limit: components.settings.keyRateLimit?.limit,
            seconds: components.settings.keyRateLimit?.seconds ?? 1
        ),
        staleReservationAge: max(600, Double(components.settings.requestTimeout.components.seconds) * 4)
    )
    let router = buildRouter(components, usage: usage, metrics: ServerMetrics())
    let settings = components.settings
    let http = HTTP1Channel.Configuration(
        idleTimeout: .seconds(settings.idleTimeoutSeconds),
        httpDecoderConfiguration: .init(
            maxHeaderFieldSize: settings.maxHeaderBytes,
            maxHeaderListSize: settings.maxHeaderBytes,
            maxHeaderFieldCount: 100
        )
    )
    return Application(
        router: router,
        server: .http1(configuration: http),
        configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "verdict"),
        services: [usage] + services,
        onServerRunning: onServerRunning,
        logger: logger
    )
}

func buildRouter(_ components: ServerComponents, usage: UsageRecorder, metrics: ServerMetrics)
    -> Router<ServerRequestContext>
{
    let settings = components.settings
    let router = Router(context: ServerRequestContext.self)
    router.add(
        middleware: AccessMiddleware(
            keyedPaths: Set(
                [
                    "/v1/enrichment/lookup", "/v1/usage", "/v1/overrides", "/v1/overrides/{type}/{value}",
                    "/v1/extract", "/v1/sources", "/v1/history", "/api/v1/enrichment/lookup",
                ]
                    + (settings.metricsRequireKey ? ["/metrics"] : [])
            ),
            authenticator: KeyAuthenticator(accounts: components.accounts),
            limiter: usage.limiter,
            usage: usage,
            metrics: metrics,
            inFlight: InFlightLimiter(total: settings.maxInFlight, perKey: settings.maxInFlightPerKey)
        )
    )
    let history = HistoryController(store: components.history, settings: settings)
    let lookups = LookupController(
        engine: components.engine,
        accounts: components.accounts,
        usage: usage,
        metrics: metrics,
        settings: settings,
        offSources: components.offSources,
        history: history
    )
    router.post("/v1/enrichment/lookup") { request, context in try await lookups.lookup(request, context: context) }
    router.get("/v1/usage") { request, context in try await lookups.usageReport(request, context: context) }
    router.get("/v1/history") { request, context in try await history.list(request, context: context) }
    let platform = DFIRPlatformController(lookups: lookups)
    router.post("/api/v1/enrichment/lookup") { request, context in try await platform.lookup(request, context: context)
    }
    let extraction = ExtractController(
        suppressor: components.engine.suppressor,
        settings: settings,
        offSources: components.offSources
    )
    router.post("/v1/extract") { request, context in try await extraction.extract(request, context: context) }
    let sources = SourcesController(engine: components.engine, offSources: components.offSources, metrics: metrics)
    router.get("/v1/sources") { _, context in try await sources.list(context: context) }
    let overrides = OverridesController(
        store: components.overrides,
        book: components.engine.overrides,
        adminKeys: settings.adminKeys,
        maxBodyBytes: settings.maxBodyBytes,
        bodyTimeout: settings.bodyTimeout
    )
    router.get("/v1/overrides") { _, context in try await overrides.list(context: context) }
    router.post("/v1/overrides") { request, context in try await overrides.add(request, context: context) }
    router.delete("/v1/overrides/:type/:value") { _, context in try await overrides.remove(context: context) }

    let sourceNames = components.engine.sourceNames
    router.get("/v1/health") { _, _ in
        Response.json(
            .object([
                ("status", .string("ok")), ("version", .string(verdictVersion)),
                ("sources", .array(sourceNames.map(JSONValue.string))),
            ])
        )
    }
    let accounts = components.accounts
    router.get("/v1/ready") { _, _ in
        guard await accounts.isReachable() else { throw APIError.storeUnavailable() }
        return Response.json(.object([("status", .string("ready"))]))
    }
    let engine = components.engine
    let feeds = components.feeds
    router.get("/metrics") { _, _ in
        var text = await metrics.render(engine: engine)
        if let feeds, let states = try? await feeds.states() { text += FeedMetrics.render(states) }
        return Response(
            status: .ok,
            headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text))
        )
    }
    router.get("/openapi.json") { _, _ in
        Response(
            status: .ok,
            headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: OpenAPIDocument.json))
        )
    }
    for asset in WebPage.assets {
        router.get(RouterPath(asset.path)) { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: asset.contentType, .cacheControl: "no-cache"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: asset.bytes))
            )
        }
    }
    return router
}

/// On the first start of a store with no keys, makes an `admin` key (enterprise plan, unlimited) so the
/// server can be used at once; the caller prints its secret once.
public func createFirstKeyIfNone(_ accounts: any AccountStore) async throws -> CreatedKey? {
    guard try await accounts.keys().isEmpty else { return nil }
    do {
        return try await accounts.createKey(name: "admin", plan: .enterprise, monthlyCredits: nil)
    } catch let error as StoreError where !error.isUnavailable {
        // Another replica starting on the same empty database made it first: that one tells its secret.
        if try await !accounts.keys().isEmpty { return nil }
        throw error
    }
}
