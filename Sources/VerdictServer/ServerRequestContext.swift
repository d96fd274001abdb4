import Hummingbird
import Logging
import VerdictStore

/// Per-request state: the caller's key once authenticated (never the key's text).
public struct ServerRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The key that sent this request, set by the authentication step.
    public var apiKey: APIKey?

    public init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
        apiKey = nil
    }
}
