import Foundation
import VerdictCore
import VerdictSources
import Yams

/// One bulk feed of the `feeds:` map (design §9): `name: {url, format, refresh, weight, verdict, max_size}`.
public struct FeedSettings: Sendable, Equatable {
    public var name: String
    /// The file's URL; for `misp-feed`, the feed's folder (`manifest.json` is under it).
    public var url: String
    public var format: FeedFormat
    /// How often `verdict serve` and `verdict tail` sync it, in seconds (`refresh: 1h`).
    public var refreshSeconds: Double
    /// How far a hit goes in the verdict, 0...1 (the local source's score is 100 × weight).
    public var weight: Double
    /// What a hit means: `malicious` or `suspicious`.
    public var verdict: Verdict
    /// Largest body accepted, compressed and uncompressed (`max_size: 200MB`); a larger one is refused.
    public var maxBytes: Int

    public init(
        name: String,
        url: String,
        format: FeedFormat,
        refreshSeconds: Double = 3_600,
        weight: Double = 0.9,
        verdict: Verdict = .malicious,
        maxBytes: Int = 256 << 20
    ) {
        self.name = name
        self.url = url
        self.format = format
        self.refreshSeconds = refreshSeconds
        self.weight = weight
        self.verdict = verdict
        self.maxBytes = maxBytes
    }

    /// A YAML settings file, parsed; nil when it holds nothing (empty, or comments only).
    static func load(yamlFile path: String) throws -> Any? {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw SettingError("VERDICT_CONFIG: cannot read \(path) (\(error.localizedDescription))")
        }
        do {
            return try Yams.load(yaml: text)
        } catch {
            throw SettingError("VERDICT_CONFIG: \(path) is not valid YAML (\(error)); fix the file")
        }
    }

    /// The `feeds:` map of a parsed settings file (at the top, or under `verdict:`); empty when it has none.
    static func read(document: Any?, path: String) throws -> [FeedSettings] {
        var root = document as? [String: Any] ?? [:]
        if let nested = root["verdict"] as? [String: Any] { root = nested }
        guard let section = root["feeds"] else { return [] }
        guard let feeds = section as? [String: Any] else {
            throw SettingError(
                "feeds in \(path) must be a map from a feed's name to {url, format, refresh, weight, verdict}"
            )
        }
        return try feeds.keys.sorted().map { name in try parse(name: name, feeds[name]) }
    }

    static func parse(name: String, _ value: Any?) throws -> FeedSettings {
        let setting = "feeds.\(name)"
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }),
            name.unicodeScalars.allSatisfy(\.isASCII)
        else {
            throw SettingError(
                "\(setting): a feed's name may hold letters, digits, '-', '_' and '.' only (it names the feed in verdicts and Wazuh lists)"
            )
        }
        guard let fields = value as? [String: Any] else {
            throw SettingError("\(setting) must be a map: {url: …, format: …}")
        }
        func text(_ key: String) -> String? {
            guard let value = fields[key] else { return nil }
            let text = "\(value)".trimmingCharacters(in: .whitespaces)
            return text.isEmpty ? nil : text
        }
        let known: Set<String> = ["url", "format", "refresh", "weight", "verdict", "max_size"]
        if let unknown = fields.keys.sorted().first(where: { !known.contains($0) }) {
            throw SettingError(
                "\(setting).\(unknown) is not a feed setting; known: \(known.sorted().joined(separator: ", "))"
            )
        }
        guard let url = text("url"), url.hasPrefix("http://") || url.hasPrefix("https://"),
            URL(string: url)?.host != nil
        else {
            throw SettingError("\(setting).url must be the feed's http(s) URL")
        }
        guard let formatName = text("format"), let format = FeedFormat(rawValue: formatName) else {
            throw SettingError("\(setting).format must be one of: \(FeedFormat.names)")
        }
        var feed = FeedSettings(name: name, url: url, format: format)
        if let refresh = text("refresh") {
            guard let seconds = DurationText.seconds(refresh) else {
                throw SettingError("\(setting).refresh: \"\(refresh)\" is not a duration such as 30m, 1h or 1d")
            }
            feed.refreshSeconds = seconds
        }
        if let weight = text("weight") {
            guard let number = Double(weight), (0...1).contains(number) else {
                throw SettingError("\(setting).weight: \"\(weight)\" is not a number from 0 to 1")
            }
            feed.weight = number
        }
        if let verdict = text("verdict") {
            guard let parsed = Verdict(rawValue: verdict), parsed == .malicious || parsed == .suspicious else {
                throw SettingError("\(setting).verdict: \"\(verdict)\" must be malicious or suspicious")
            }
            feed.verdict = parsed
        }
        if let size = text("max_size") {
            guard let bytes = ByteSize.parse(size) else {
                throw SettingError("\(setting).max_size: \"\(size)\" is not a size such as 200MB or 1GB")
            }
            feed.maxBytes = bytes
        }
        return feed
    }
}

/// `200MB`, `1GB`, `512KB`, `1048576`: a size as users write it, in bytes.
enum ByteSize {
    static func parse(_ text: String) -> Int? {
        let upper = text.uppercased().replacingOccurrences(of: " ", with: "")
        for (suffix, factor) in [("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10), ("B", 1)]
        where upper.hasSuffix(suffix) {
            guard let number = Double(upper.dropLast(suffix.count)), number > 0 else { return nil }
            return Int(number * Double(factor))
        }
        return Int(upper).flatMap { $0 > 0 ? $0 : nil }
    }
}
