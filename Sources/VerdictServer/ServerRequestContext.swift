import Hummingbird
import Logging
import VerdictStore

/// Per-request state: the caller's key once authenticated (never the key's text).
public struct ServerRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The key that sent this request, set by the authentication step.
    public var apiKey: APIKey?
    /// 64 random bits in hex: unlike a counter, it tells nobody how many requests others sent.
    public let requestID: String

    public init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
        apiKey = nil
        let bits = UInt64.random(in: .min ... .max)
        let hex = String(bits, radix: 16)
        requestID = String(repeating: "0", count: 16 - hex.count) + hex
    }
}
