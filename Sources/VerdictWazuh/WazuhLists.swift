import Foundation
import VerdictCore
import VerdictEngine
import VerdictSources

#if canImport(Glibc)
import Glibc
#endif

/// Wazuh CDB lists of what is known bad now (design §9): the synced feeds' and `VERDICT_FEEDS_DIR`'s
/// malicious entries, malicious overrides, and cached malicious verdicts within their TTL, less harmless
/// overrides and suppressed values. One list per kind, `key:value` with the source in the value, written
/// atomically; analysisd compiles them on its next start or ruleset reload (reference/wazuh.md §4.1).
public struct WazuhLists: Sendable {
    /// The list files, by kind, as the rules (100620-100639) and ossec.conf name them.
    public enum Kind: String, Sendable, CaseIterable {
        case ip = "malicious-ip"
        case domains = "malicious-domains"
        case urls = "malicious-urls"
        case hashes = "malware-hashes"

        /// The file name in Wazuh's own `etc/lists/malicious-ioc/` (it has no URL list).
        public var wazuhIOCFileName: String? { self == .urls ? nil : rawValue }
    }

    /// Key → value (the sources that list it, comma-separated) per list.
    public var lists: [Kind: [String: String]] = [:]
    /// Networks a CDB list cannot hold (IPv6 ranges; IPv4 ranges wider than a /8 after splitting), left out.
    public var networksLeftOut = 0

    public init() {}

    /// What is known bad now, from the stores.
    public static func collect(
        feeds: any FeedStore,
        overrides: [AnalystOverride],
        cache: any LookupCache,
        engine: EnrichmentEngine,
        now: Double = Date().timeIntervalSince1970
    ) async throws -> WazuhLists {
        let collector = Collector()
        try await feeds.forEachEntry(withVerdict: .malicious) { match in collector.add(match.entry, source: match.feed)
        }
        var lists = collector.lists
        for override in overrides where override.verdict == .malicious && override.isActive(at: now) {
            lists.add(override.indicator, source: "analyst")
        }
        // A cached verdict is the engine's: the sources' fresh answers for one value, aggregated.
        var answers: [Indicator: [SourceResult]] = [:]
        for (key, answer) in try await cache.freshAnswers(at: now) {
            answers[key.indicator, default: []].append(answer.result)
        }
        for (indicator, results) in answers {
            let aggregate = engine.aggregator.aggregate(results)
            guard aggregate.verdict == .malicious else { continue }
            lists.add(indicator, source: "verdict:" + aggregate.decidingSources.joined(separator: "+"))
        }
        // Harmless overrides and suppressed values never reach a list, whatever listed them.
        for (kind, entries) in lists.lists {
            lists.lists[kind] = entries.filter { key, _ in
                guard let indicator = Self.indicator(forKey: key, kind: kind) else { return true }
                if let override = engine.overrides.override(for: indicator, at: now), override.verdict == .harmless {
                    return false
                }
                if case .suppressed = engine.suppressor.assess(indicator) { return false }
                return true
            }
        }
        return lists
    }

    /// The indicator a list key stands for (nil for an address prefix such as `10.1.`).
    static func indicator(forKey key: String, kind: Kind) -> Indicator? {
        switch kind {
        case .ip:
            if IPv4Address(key) != nil { return Indicator(type: .ipv4, value: key) }
            if IPv6Address(key) != nil { return Indicator(type: .ipv6, value: key) }
            return nil
        case .domains: return Indicator(type: .domain, value: key)
        case .urls: return Indicator(type: .url, value: key)
        case .hashes:
            switch key.count {
            case 32: return Indicator(type: .md5, value: key)
            case 40: return Indicator(type: .sha1, value: key)
            default: return Indicator(type: .sha256, value: key)
            }
        }
    }

    mutating func add(_ indicator: Indicator, source: String) {
        switch indicator.type {
        case .ipv4, .ipv6: add(indicator.value, source: source, to: .ip)
        case .domain: add(indicator.value, source: source, to: .domains)
        case .url: add(indicator.value, source: source, to: .urls)
        case .md5, .sha1, .sha256: add(indicator.value, source: source, to: .hashes)
        case .email: break
        }
    }

    mutating func add(_ entry: FeedEntry, source: String) {
        switch entry.kind {
        case .network:
            guard let network = IPNetwork(entry.value), let keys = Self.addressPrefixes(network) else {
                networksLeftOut += 1
                return
            }
            for key in keys { add(key, source: source, to: .ip) }
        case .ipv4, .ipv6: add(entry.value, source: source, to: .ip)
        case .domain: add(entry.value, source: source, to: .domains)
        case .url: add(entry.value, source: source, to: .urls)
        case .md5, .sha1, .sha256: add(entry.value, source: source, to: .hashes)
        case .email: break
        }
    }

    mutating func add(_ key: String, source: String, to kind: Kind) {
        var entries = lists[kind, default: [:]]
        if let existing = entries[key] {
            if !existing.split(separator: ",").contains(Substring(source)) { entries[key] = existing + "," + source }
        } else {
            entries[key] = source
        }
        lists[kind] = entries
    }

    /// An IPv4 network as `address_match_key` keys: whole-octet prefixes (`10.1.` is 10.1.0.0/16), a block that
    /// is not on an octet boundary split into the next one's blocks (a /22 is four /24s). Nil for IPv6 ranges and
    /// for blocks wider than a /8, which a CDB list cannot hold.
    static func addressPrefixes(_ network: IPNetwork) -> [String]? {
        guard case .v4(let address, let prefix) = network, prefix >= 8 else { return nil }
        if prefix == 32 { return [address.description] }
        let octets = (prefix + 7) / 8
        let count = 1 << (octets * 8 - prefix)
        let step = UInt32(1) << UInt32(32 - octets * 8)
        return (0..<count).map { index in
            let value = address.value &+ UInt32(index) &* step
            let parts = (0..<octets).map { String((value >> UInt32(24 - 8 * $0)) & 0xFF) }
            return parts.joined(separator: ".") + "."
        }
    }

    /// The text of one list: a line per key, sorted; keys with `:` (IPv6, URLs) quoted as Wazuh reads them.
    /// Keys Wazuh cannot read (a `"` in them, longer than its line) are left out.
    public static func text(of entries: [String: String]) -> String {
        var lines: [String] = []
        lines.reserveCapacity(entries.count)
        for key in entries.keys.sorted() {
            guard !key.contains("\""), !key.contains("\n"), key.utf8.count < 60_000 else { continue }
            let value = entries[key]!.replacingOccurrences(of: "\"", with: "")
            let shownKey = key.contains(":") ? "\"\(key)\"" : key
            let shownValue = value.contains(":") ? "\"\(value)\"" : value
            lines.append("\(shownKey):\(shownValue)")
        }
        return lines.joined(separator: "\n") + (lines.isEmpty ? "" : "\n")
    }

    /// Writes the lists into `folder` (created if needed), each through a temporary file and a rename, so
    /// analysisd never reads half a list. Returns each file with its count.
    public func write(into folder: String, fileName: (Kind) -> String? = { $0.rawValue }) throws -> [(
        path: String, count: Int
    )] {
        // analysisd (user wazuh) reads each list and writes its NAME.cdb beside it: a new folder gets the owner
        // and mode of etc/lists, new files the folder's owner.
        var folderInfo = stat()
        if stat(folder, &folderInfo) != 0 {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            var parent = stat()
            if stat((folder as NSString).deletingLastPathComponent, &parent) == 0 {
                chmod(folder, parent.st_mode & 0o7777)
                _ = chown(folder, parent.st_uid, parent.st_gid)
            }
            guard stat(folder, &folderInfo) == 0 else {
                throw WazuhListsError("cannot create \(folder) (\(String(cString: strerror(errno))))")
            }
        }
        var written: [(String, Int)] = []
        for kind in Kind.allCases {
            guard let name = fileName(kind) else { continue }
            let path = folder + "/" + name
            let entries = lists[kind] ?? [:]
            let temporary = path + ".verdict-new"
            try Data(Self.text(of: entries).utf8).write(to: URL(fileURLWithPath: temporary))
            // Same owner and mode as the list it replaces, so analysisd (user wazuh) still reads it.
            var existing = stat()
            if stat(path, &existing) == 0 {
                chmod(temporary, existing.st_mode & 0o7777)
                _ = chown(temporary, existing.st_uid, existing.st_gid)
            } else {
                chmod(temporary, 0o660)
                _ = chown(temporary, folderInfo.st_uid, folderInfo.st_gid)
            }
            guard rename(temporary, path) == 0 else {
                throw WazuhListsError("cannot replace \(path) (\(String(cString: strerror(errno))))")
            }
            written.append((path, entries.count))
        }
        return written
    }

    /// `verdict wazuh lists --into-wazuh-ioc-lists`: Wazuh's own `etc/lists/malicious-ioc/` (which 0999's rules
    /// match), keeping the entries Wazuh shipped there and adding Verdict's.
    public func mergedIntoWazuhIOCLists(home: String) -> WazuhLists {
        var merged = self
        for kind in Kind.allCases {
            guard let name = kind.wazuhIOCFileName,
                let text = try? String(contentsOfFile: "\(home)/etc/lists/malicious-ioc/\(name)", encoding: .utf8)
            else { continue }
            for line in text.split(whereSeparator: \.isNewline) {
                guard let (key, value) = Self.parseLine(Substring(line)) else { continue }
                if merged.lists[kind, default: [:]][key] == nil { merged.lists[kind, default: [:]][key] = value }
            }
        }
        return merged
    }

    /// One `key:value` line as Wazuh reads it (the key may be quoted).
    public static func parseLine(_ line: Substring) -> (String, String)? {
        if line.hasPrefix("\"") {
            let rest = line.dropFirst()
            guard let close = rest.firstIndex(of: "\""), rest[rest.index(after: close)...].hasPrefix(":") else {
                return nil
            }
            let value = rest[rest.index(close, offsetBy: 2)...]
            return (String(rest[..<close]), String(value).trimmingCharacters(in: ["\""]))
        }
        guard let colon = line.firstIndex(of: ":") else { return nil }
        return (String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingCharacters(in: ["\""]))
    }
}

/// Gathers feed entries from the store's reader, which calls back from its own thread.
final class Collector: @unchecked Sendable {
    // Only the store's one reading thread touches it, then the caller after the read has returned.
    var lists = WazuhLists()

    func add(_ entry: FeedEntry, source: String) { lists.add(entry, source: source) }
}

public struct WazuhListsError: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// analysisd's control socket (`queue/sockets/analysis`, a stream socket; each message a 4-byte little-endian
/// length and the JSON): `{"command":"reload-ruleset"}` re-reads rules, decoders and lists without a restart.
public enum AnalysisdReload {
    public struct Answer: Sendable, Equatable {
        /// 0 when the new ruleset is in use.
        public var error: Int
        public var message: String
        /// analysisd's warnings about the new ruleset.
        public var warnings: [String]

        /// The warnings about Verdict's rules (100600-100649) or lists. A stock manager's own ruleset warns too
        /// (its AWS rules name a list its ossec.conf does not declare): those are counted, not shown.
        public var verdictWarnings: [String] {
            warnings.filter { warning in
                warning.contains("etc/lists/verdict/")
                    || (100_600...100_649).contains { warning.contains("'\($0)'") }
            }
        }
    }

    /// Sends the request and reads the answer, within `timeout`.
    public static func reload(home: String, timeout: Double = 30) throws(WazuhListsError) -> Answer {
        let path = home + "/queue/sockets/analysis"
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else {
            throw WazuhListsError("cannot make a socket (\(String(cString: strerror(errno))))")
        }
        defer { close(descriptor) }
        var limit = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        let code = UnixSocket.dial(descriptor, to: path)
        guard code == 0 else {
            throw WazuhListsError(
                "cannot reach analysisd at \(path) (\(String(cString: strerror(code)))); is the manager running (4.14 or later)? The lists are written: restart the manager to load them"
            )
        }
        let request = Array(#"{"command":"reload-ruleset"}"#.utf8)
        let length = UInt32(request.count)
        let frame =
            [UInt8(length & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length >> 16 & 0xFF), UInt8(length >> 24)]
            + request
        guard sendAll(descriptor, frame) else {
            throw WazuhListsError("cannot send the reload request to \(path) (\(String(cString: strerror(errno))))")
        }
        guard let header = receive(descriptor, count: 4) else {
            throw WazuhListsError("analysisd did not answer the reload request within \(Int(timeout)) s")
        }
        let size = Int(header[0]) | Int(header[1]) << 8 | Int(header[2]) << 16 | Int(header[3]) << 24
        guard size > 0, size < 64 << 20, let body = receive(descriptor, count: size) else {
            throw WazuhListsError("analysisd's answer to the reload was cut short or malformed (length \(size))")
        }
        guard let answer = try? JSONValue(parsing: body), let code = answer["error"]?.scalarText.flatMap({ Int($0) })
        else {
            throw WazuhListsError(
                "analysisd's answer to the reload is not the expected JSON: \(String(decoding: body.prefix(200), as: UTF8.self))"
            )
        }
        var warnings: [String] = []
        if case .array(let items) = answer["data"] { warnings = items.compactMap(\.scalarText) }
        return Answer(error: code, message: answer["message"]?.scalarText ?? "", warnings: warnings)
    }

    static func sendAll(_ descriptor: Int32, _ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes {
                send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return false }
            sent += count
        }
        return true
    }

    static func receive(_ descriptor: Int32, count: Int) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: count)
        var received = 0
        while received < count {
            let got = buffer[received...].withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else { return nil }
            received += got
        }
        return buffer
    }
}
