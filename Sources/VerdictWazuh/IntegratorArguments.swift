/// The argv integratord gives an integration (docs/wazuh.md §1): argv[0] is `integrations`, then
/// alert file, api_key, hook_url, `debug` or empty, options file or empty, timeout, retries, and when not
/// debugging the literal argument `> /dev/null 2>&1` (no shell runs it). Wazuh 4.6 and older stop after
/// `debug`, 4.7 after the options file; empty strings are real arguments.
public struct IntegratorArguments: Sendable, Equatable {
    public var alertFile: String
    public var apiKey: String
    public var hookURL: String
    public var debug: Bool
    public var optionsFile: String?
    /// Seconds, from `<timeout>` (Wazuh 4.8+).
    public var timeoutSeconds: Double?
    public var retries: Int?

    public init(
        alertFile: String,
        apiKey: String = "",
        hookURL: String = "",
        debug: Bool = false,
        optionsFile: String? = nil,
        timeoutSeconds: Double? = nil,
        retries: Int? = nil
    ) {
        self.alertFile = alertFile
        self.apiKey = apiKey
        self.hookURL = hookURL
        self.debug = debug
        self.optionsFile = optionsFile
        self.timeoutSeconds = timeoutSeconds
        self.retries = retries
    }

    /// Reads the arguments after argv[0].
    public init(_ arguments: [String]) throws(IntegrationFailure) {
        var values = arguments
        // The redirection integratord appends as one argument (or, from a hand-typed line, as three).
        if values.last == "> /dev/null 2>&1" {
            values.removeLast()
        } else if values.suffix(3) == [">", "/dev/null", "2>&1"] {
            values.removeLast(3)
        }
        guard let alertFile = values.first, !alertFile.isEmpty else {
            throw IntegrationFailure(
                .badArguments,
                "no alert file: custom-verdict is run by wazuh-integratord as `integrations ALERT_FILE API_KEY HOOK_URL …`; by hand, give the alert file first"
            )
        }
        func value(_ index: Int) -> String? {
            values.indices.contains(index) && !values[index].isEmpty ? values[index] : nil
        }
        self.alertFile = alertFile
        apiKey = value(1) ?? ""
        hookURL = value(2) ?? ""
        debug = value(3) == "debug"
        optionsFile = value(4)
        if let text = value(5) {
            guard let seconds = Double(text), seconds > 0, seconds <= 3600 else {
                throw IntegrationFailure(.badArguments, "timeout argument \"\(text)\" is not a number of seconds")
            }
            timeoutSeconds = seconds
        }
        retries = value(6).flatMap { Int($0) }
    }
}
