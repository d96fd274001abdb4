/// Why an integration run failed, with the exit code integratord (or execd) sees. Each has one clear log
/// line; codes follow Wazuh's own scripts where they overlap (maltiverse.py: 2 arguments, 3 alert file
/// missing, 4 invalid JSON, 6 ECONNREFUSED, 7 EMSGSIZE).
public struct IntegrationFailure: Error, Sendable, CustomStringConvertible {
    public enum Kind: Int32, Sendable {
        case badArguments = 2
        case alertFileMissing = 3
        case alertNotJSON = 4
        case socketMissing = 5
        case analysisdRefusing = 6
        case messageTooLarge = 7
        case lookupFailed = 8
        case socketBusy = 9
        case badSettings = 10
        case socketFailed = 11
    }

    public let kind: Kind
    public let description: String
    /// The lookup may well work later (a server down, refusing, slow or out of credits; a budget run out):
    /// the alert is kept in the retry queue rather than lost.
    public let isWorthRetrying: Bool

    public init(_ kind: Kind, _ description: String, isWorthRetrying: Bool = false) {
        self.kind = kind
        self.description = description
        self.isWorthRetrying = isWorthRetrying
    }

    public var exitCode: Int32 { kind.rawValue }
}
