import VerdictCore

/// Everything Verdict knows of one outside source, in one place: the settings, the runtime, the aggregator, the
/// messages and the API's list of names all read it. Adding a source is its adapter and one entry here.
public struct SourceDescriptor: Sendable {
    public let name: String
    /// The name people know it by, for messages: "MISP".
    public let title: String
    /// The provider's base URL; nil where each user runs their own (MISP, OpenCTI): then `NAME.url` is required.
    public let defaultBaseURL: String?
    /// Whether it answers without a key (InternetDB).
    public let keyless: Bool
    /// A setting whose key this source shares with its siblings (`abusech` for URLhaus, ThreatFox, MalwareBazaar);
    /// its own `NAME.api_key` still wins.
    public let sharedKeySetting: String?
    /// The rate windows of the provider's free plan; `NAME.rate` replaces them.
    public let defaultWindows: [RateWindow]
    /// How far its word goes in the verdict (`aggregation.weights` replaces it), from its false-positive record
    /// in peer tools: curated data and multi-engine views weigh most, crowd-reported and scan-derived data less.
    public let defaultWeight: Double
    public let make: @Sendable (ProviderSettings, ProviderHTTPClient) -> any ThreatIntelSource

    public init(
        name: String,
        title: String? = nil,
        defaultBaseURL: String?,
        keyless: Bool = false,
        sharedKeySetting: String? = nil,
        defaultWindows: [RateWindow] = [],
        defaultWeight: Double,
        make: @escaping @Sendable (ProviderSettings, ProviderHTTPClient) -> any ThreatIntelSource
    ) {
        self.name = name
        self.title = title ?? name
        self.defaultBaseURL = defaultBaseURL
        self.keyless = keyless
        self.sharedKeySetting = sharedKeySetting
        self.defaultWindows = defaultWindows
        self.defaultWeight = defaultWeight
        self.make = make
    }

    /// The environment variable that holds its key, as messages name it.
    public var keyVariable: String { "VERDICT_\((sharedKeySetting ?? name).uppercased())_API_KEY" }
}

public enum SourceCatalog {
    /// The outside sources, in the order results list them (`local` comes last).
    public static let outside: [SourceDescriptor] = [
        SourceDescriptor(
            name: "virustotal",
            defaultBaseURL: VirusTotalSource.defaultBaseURL,
            defaultWindows: [.perMinute(4), .perDay(500)],
            defaultWeight: 0.9,
            make: { VirusTotalSource(settings: $0, http: $1) }
        ),
        SourceDescriptor(
            name: "abuseipdb",
            defaultBaseURL: AbuseIPDBSource.defaultBaseURL,
            defaultWindows: [.perDay(1000)],
            defaultWeight: 0.8,
            make: { AbuseIPDBSource(settings: $0, http: $1) }
        ),
        SourceDescriptor(
            name: "otx",
            defaultBaseURL: OTXSource.defaultBaseURL,
            defaultWeight: 0.6,
            make: { OTXSource(settings: $0, http: $1) }
        ),
        SourceDescriptor(
            name: "greynoise",
            defaultBaseURL: GreyNoiseSource.defaultBaseURL,
            defaultWeight: 0.75,
            make: { GreyNoiseSource(settings: $0, http: $1) }
        ),
        SourceDescriptor(
            name: "misp",
            title: "MISP",
            defaultBaseURL: nil,
            defaultWeight: 0.85,
            make: { MISPSource(settings: $0, http: $1) }
        ),
        SourceDescriptor(
            name: "maltiverse",
            defaultBaseURL: MaltiverseSource.defaultBaseURL,
            defaultWeight: 0.7,
            make: { MaltiverseSource(settings: $0, http: $1) }
        ),
        SourceDescriptor(
            name: "urlhaus",
            defaultBaseURL: URLhausSource.defaultBaseURL,
            sharedKeySetting: "abusech",
            defaultWeight: 0.9,
            make: { URLhausSource(settings: $0, http: $1) }
        ),
        SourceDescriptor(
            name: "threatfox",
            defaultBaseURL: ThreatFoxSource.defaultBaseURL,
            sharedKeySetting: "abusech",
            defaultWeight: 0.9,
            make: { ThreatFoxSource(settings: $0, http: $1) }
        ),
        SourceDescriptor(
            name: "malwarebazaar",
            defaultBaseURL: MalwareBazaarSource.defaultBaseURL,
            sharedKeySetting: "abusech",
            defaultWeight: 0.95,
            make: { MalwareBazaarSource(settings: $0, http: $1) }
        ),
        SourceDescriptor(
            name: "internetdb",
            defaultBaseURL: InternetDBSource.defaultBaseURL,
            keyless: true,
            defaultWeight: 0.4,
            make: { InternetDBSource(settings: $0, http: $1) }
        ),
        SourceDescriptor(
            name: "opencti",
            title: "OpenCTI",
            defaultBaseURL: nil,
            defaultWeight: 0.85,
            make: { OpenCTISource(settings: $0, http: $1) }
        ),
        SourceDescriptor(
            name: "dfirlab",
            title: "DFIR platform",
            defaultBaseURL: DFIRLabSource.defaultBaseURL,
            defaultWeight: 0.8,
            make: { DFIRLabSource(settings: $0, http: $1) }
        ),
        SourceDescriptor(
            name: "crowdsec",
            defaultBaseURL: CrowdSecSource.defaultBaseURL,
            defaultWindows: [.perDay(50)],
            defaultWeight: 0.75,
            make: { CrowdSecSource(settings: $0, http: $1) }
        ),
    ]

    /// Every source's name, `local` (the feed index) last.
    public static let names = outside.map(\.name) + ["local"]

    public static func descriptor(named name: String) -> SourceDescriptor? { outside.first { $0.name == name } }

    /// The aggregator's weights: each outside source's, and the analyst's own lists weigh fully.
    public static let defaultWeights: [String: Double] = Dictionary(
        uniqueKeysWithValues: outside.map { ($0.name, $0.defaultWeight) } + [("local", 1.0)]
    )

    /// The settings that turn the outside sources on, for messages that tell a user how.
    public static var keySettings: String {
        var parts: [String] = []
        for descriptor in outside where !descriptor.keyless {
            if descriptor.defaultBaseURL == nil {
                parts.append("VERDICT_\(descriptor.name.uppercased())_URL with \(descriptor.keyVariable)")
            } else if let shared = descriptor.sharedKeySetting {
                let siblings = outside.filter { $0.sharedKeySetting == shared }.map(\.name)
                let text = "\(descriptor.keyVariable) (\(siblings.joined(separator: ", ")))"
                if !parts.contains(text) { parts.append(text) }
            } else {
                parts.append(descriptor.keyVariable)
            }
        }
        let keyless = outside.filter(\.keyless).map(\.name)
        return parts.joined(separator: ", ") + " (\(keyless.joined(separator: ", ")) needs no key)"
    }
}
