import AsyncHTTPClient
import CompressNIO
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import VerdictCore
import VerdictSources

/// What one feed's sync did.
public struct FeedSyncReport: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        /// A new copy was indexed.
        case updated
        /// The publisher said nothing changed (304), or sent the same bytes again.
        case unchanged
        /// The download or its body was refused; the last good copy stays.
        case failed(String)
    }

    public var feed: String
    public var outcome: Outcome
    /// Entries in the index for this feed after the sync.
    public var entries: Int
    /// Lines or records of the new copy that held no value Verdict can index.
    public var skipped: Int

    /// One line for `verdict feeds sync`.
    public var line: String {
        switch outcome {
        case .updated:
            "\(feed): \(entries) entries indexed" + (skipped > 0 ? " (\(skipped) lines held no indicator)" : "")
        case .unchanged: "\(feed): unchanged, \(entries) entries"
        case .failed(let reason): "\(feed): FAILED, kept the last good copy (\(entries) entries): \(reason)"
        }
    }
}

/// Downloads the bulk feeds into the store's index (design §9): conditional requests, a size cap, gzip and
/// ZIP bodies, and an atomic swap, so a failed, truncated or malformed download never replaces the last good
/// copy and is reported with the feed's name.
public final class FeedSyncer: Sendable {
    let store: any FeedStore
    let client: HTTPClient
    /// How long one download may take in all.
    let timeout: Duration

    public init(store: any FeedStore, timeout: Duration = .seconds(600)) {
        self.store = store
        self.timeout = timeout
        var configuration = HTTPClient.Configuration()
        // Publishers redirect (abuse.ch to its CDN, GitHub raw files); a few hops, never a loop.
        configuration.redirectConfiguration = .follow(max: 5, allowCycles: false)
        configuration.timeout = HTTPClient.Configuration.Timeout(connect: .seconds(10), read: .seconds(60))
        configuration.decompression = .disabled
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    public func shutdown() async {
        try? await client.shutdown()
    }

    /// Syncs each feed, one after another (they are large; the index is written one feed at a time), and
    /// takes out of the index the downloaded feeds no longer in the settings.
    public func sync(_ feeds: [FeedSettings], removingOthers: Bool = true) async throws -> [FeedSyncReport] {
        var reports: [FeedSyncReport] = []
        for feed in feeds { reports.append(try await sync(feed)) }
        if removingOthers {
            let configured = Set(feeds.map(\.name))
            let stale = try await store.states().filter { $0.origin == .download && !configured.contains($0.name) }
            if !stale.isEmpty { try await store.apply(FeedIndexChange(removed: stale.map(\.name))) }
        }
        return reports
    }

    /// Syncs one feed. A failure of the feed is in the report; a failure of the store is thrown.
    public func sync(_ feed: FeedSettings) async throws -> FeedSyncReport {
        let previous = try await store.states().first { $0.name == feed.name }
        let now = Date().timeIntervalSince1970
        // Validators only hold for the copy made from the same URL and format.
        let sameSource = previous.map { $0.location == feed.url && $0.format == feed.format.rawValue } ?? false
        var state =
            (sameSource ? previous : nil)
            ?? FeedState(
                name: feed.name,
                origin: .download,
                location: feed.url,
                format: feed.format.rawValue,
                verdict: feed.verdict
            )
        state.verdict = feed.verdict
        state.checkedAt = now
        do {
            let fetched = try await fetchEntries(feed, validators: sameSource ? previous : nil)
            switch fetched {
            case .notModified:
                state.lastError = nil
                // A changed verdict setting applies to the entries already indexed.
                try await store.record(state)
                return FeedSyncReport(feed: feed.name, outcome: .unchanged, entries: state.entryCount, skipped: 0)
            case .sameBody(let etag, let lastModified):
                state.lastError = nil
                state.etag = etag
                state.lastModified = lastModified
                try await store.record(state)
                return FeedSyncReport(feed: feed.name, outcome: .unchanged, entries: state.entryCount, skipped: 0)
            case .parsed(let parsed, let etag, let lastModified, let digest):
                state.lastError = nil
                state.etag = etag
                state.lastModified = lastModified
                state.digest = digest
                state.syncedAt = now
                state.location = feed.url
                state.format = feed.format.rawValue
                try await store.apply(FeedIndexChange(replaced: [(state, parsed.entries)]))
                let stored = try await store.states().first { $0.name == feed.name }
                return FeedSyncReport(
                    feed: feed.name,
                    outcome: .updated,
                    entries: stored?.entryCount ?? parsed.entries.count,
                    skipped: parsed.skipped
                )
            }
        } catch let failure as FeedFailure {
            // The entries of the last good copy stay; the state says what went wrong.
            var failed = previous ?? state
            failed.checkedAt = now
            failed.lastError = failure.description
            try await store.record(failed)
            return FeedSyncReport(
                feed: feed.name,
                outcome: .failed(failure.description),
                entries: previous?.entryCount ?? 0,
                skipped: 0
            )
        }
    }

    enum Fetched {
        case notModified
        case sameBody(etag: String?, lastModified: String?)
        case parsed(ParsedFeed, etag: String?, lastModified: String?, digest: String)
    }

    func fetchEntries(_ feed: FeedSettings, validators: FeedState?) async throws(FeedFailure) -> Fetched {
        guard feed.format == .mispFeed else {
            let download = try await download(feed.url, validators: validators, maxBytes: feed.maxBytes)
            guard case .body(let body, let etag, let lastModified) = download else { return .notModified }
            let digest = Self.digest(body)
            if digest == validators?.digest { return .sameBody(etag: etag, lastModified: lastModified) }
            do {
                return .parsed(try feed.format.parse(body), etag: etag, lastModified: lastModified, digest: digest)
            } catch {
                throw FeedFailure("\(feed.url): \(error)")
            }
        }
        // A MISP feed is a folder: the manifest names the events, each its own file.
        let folder = feed.url.hasSuffix("/") ? feed.url : feed.url + "/"
        let manifestURL = folder + "manifest.json"
        let download = try await download(manifestURL, validators: validators, maxBytes: feed.maxBytes)
        guard case .body(let manifest, let etag, let lastModified) = download else { return .notModified }
        let ids: [String]
        do {
            ids = try MISPFeedEvent.eventIDs(inManifest: manifest)
        } catch {
            throw FeedFailure("\(manifestURL): \(error)")
        }
        var parsed = ParsedFeed()
        var hasher = SHA256()
        hasher.update(data: manifest)
        var total = manifest.count
        for id in ids.sorted() {
            let eventURL = folder + id + ".json"
            guard
                case .body(let body, _, _) = try await self.download(eventURL, validators: nil, maxBytes: feed.maxBytes)
            else { continue }
            total += body.count
            guard total <= feed.maxBytes else {
                throw FeedFailure("the feed's event files add up to more than max_size (\(feed.maxBytes >> 20) MB)")
            }
            hasher.update(data: body)
            do {
                let event = try FeedFormat.mispFeed.parse(body)
                parsed.entries += event.entries
                parsed.skipped += event.skipped
            } catch {
                throw FeedFailure("\(eventURL): \(error)")
            }
        }
        let digest = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        if digest == validators?.digest { return .sameBody(etag: etag, lastModified: lastModified) }
        return .parsed(parsed, etag: etag, lastModified: lastModified, digest: digest)
    }

    enum Download {
        case notModified
        case body([UInt8], etag: String?, lastModified: String?)
    }

    /// One GET: conditional when a last good copy has validators, cut off past `maxBytes`, decompressed.
    func download(_ url: String, validators: FeedState?, maxBytes: Int) async throws(FeedFailure) -> Download {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "User-Agent", value: "verdict-feeds/1")
        request.headers.add(name: "Accept-Encoding", value: "gzip")
        if let validators, validators.entryCount > 0 || validators.syncedAt != nil {
            if let etag = validators.etag { request.headers.add(name: "If-None-Match", value: etag) }
            if let modified = validators.lastModified {
                request.headers.add(name: "If-Modified-Since", value: modified)
            }
        }
        var received: [UInt8] = []
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: .seconds(Int64(timeout.components.seconds)))
        } catch {
            throw FeedFailure("cannot download \(url) (\(Self.describe(error)))")
        }
        if response.status == .notModified { return .notModified }
        guard response.status == .ok else {
            throw FeedFailure("\(url) answered HTTP \(response.status.code) \(response.status.reasonPhrase)")
        }
        if let length = response.headers.first(name: "Content-Length").flatMap(Int.init), length > maxBytes {
            throw FeedFailure(
                "\(url) is \(length) bytes, more than max_size (\(maxBytes) bytes); raise the feed's max_size if that is right"
            )
        }
        do {
            for try await chunk in response.body {
                received.append(contentsOf: chunk.readableBytesView)
                if received.count > maxBytes {
                    throw FeedFailure(
                        "\(url) sent more than max_size (\(maxBytes) bytes); the download was stopped. Raise the feed's max_size if that is right"
                    )
                }
            }
        } catch let failure as FeedFailure {
            throw failure
        } catch {
            throw FeedFailure(
                "the download of \(url) was cut short after \(received.count) bytes (\(Self.describe(error)))"
            )
        }
        if let length = response.headers.first(name: "Content-Length").flatMap(Int.init), received.count != length {
            throw FeedFailure("the download of \(url) was cut short: \(received.count) of \(length) bytes")
        }
        let body = try FeedBody.decode(received, url: url, maxBytes: maxBytes)
        return .body(
            body,
            etag: response.headers.first(name: "ETag"),
            lastModified: response.headers.first(name: "Last-Modified")
        )
    }

    static func digest(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .remoteConnectionClosed: return "the server closed the connection"
            case .readTimeout, .deadlineExceeded: return "timed out"
            case .connectTimeout: return "could not connect in time"
            default: return String(describing: error)
            }
        }
        return String(describing: error)
    }
}

/// A feed that could not be synced, with the reason.
struct FeedFailure: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}

/// Feed bodies as publishers serve them: plain, gzip (`.gz`, or `Content-Encoding: gzip`), or a ZIP holding one
/// file (abuse.ch's full dumps).
enum FeedBody {
    static func decode(_ bytes: [UInt8], url: String, maxBytes: Int) throws(FeedFailure) -> [UInt8] {
        if bytes.starts(with: [0x1F, 0x8B]) {
            let text = try inflate(bytes[...], algorithm: .gzip, url: url, maxBytes: maxBytes)
            // The trailer's last four bytes are the text's size (mod 2^32): a cut archive does not match.
            guard bytes.count >= 18 else { throw FeedFailure("\(url) is a gzip file cut short") }
            let size = bytes.suffix(4).reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            guard size == UInt32(truncatingIfNeeded: text.count) else {
                throw FeedFailure("\(url) is a gzip file cut short (its text is incomplete)")
            }
            return text
        }
        if bytes.starts(with: [0x50, 0x4B, 0x03, 0x04]) { return try unzip(bytes, url: url, maxBytes: maxBytes) }
        return bytes
    }

    /// The first file of a ZIP archive (stored or deflated), as abuse.ch packs its dumps.
    static func unzip(_ bytes: [UInt8], url: String, maxBytes: Int) throws(FeedFailure) -> [UInt8] {
        func number(_ offset: Int, _ size: Int) -> Int {
            (0..<size).reduce(0) { $0 | Int(bytes[offset + $1]) << (8 * $1) }
        }
        guard bytes.count >= 30 else { throw FeedFailure("\(url) is a ZIP file cut short") }
        let flags = number(6, 2)
        let method = number(8, 2)
        var compressedSize = number(18, 4)
        var size = number(22, 4)
        let start = 30 + number(26, 2) + number(28, 2)
        if flags & 0x08 != 0 {
            // Sizes in a data descriptor after the data: read them from the central directory instead.
            guard let central = centralSizes(bytes) else { throw FeedFailure("\(url) is a ZIP file cut short") }
            (compressedSize, size) = central
        }
        guard start + compressedSize <= bytes.count else {
            throw FeedFailure("\(url) is a ZIP file cut short (\(bytes.count) bytes)")
        }
        guard size <= maxBytes else {
            throw FeedFailure("\(url) unpacks to \(size) bytes, more than max_size (\(maxBytes) bytes)")
        }
        let data = bytes[start..<(start + compressedSize)]
        let text: [UInt8]
        switch method {
        case 0: text = Array(data)
        case 8: text = try inflate(data, algorithm: .deflate, url: url, maxBytes: maxBytes)
        default:
            throw FeedFailure("\(url) is a ZIP file packed with method \(method); only stored and deflate are read")
        }
        guard text.count == size else { throw FeedFailure("\(url) is a ZIP file whose text is incomplete") }
        return text
    }

    /// The first entry's sizes from the central directory (found through the end record).
    static func centralSizes(_ bytes: [UInt8]) -> (Int, Int)? {
        func number(_ offset: Int, _ size: Int) -> Int {
            (0..<size).reduce(0) { $0 | Int(bytes[offset + $1]) << (8 * $1) }
        }
        guard bytes.count >= 22 else { return nil }
        var end = bytes.count - 22
        while end >= 0 && !(bytes[end] == 0x50 && bytes[end + 1] == 0x4B && bytes[end + 2] == 5 && bytes[end + 3] == 6)
        {
            end -= 1
        }
        guard end >= 0 else { return nil }
        let central = number(end + 16, 4)
        guard central + 46 <= bytes.count, number(central, 4) == 0x0201_4B50 else { return nil }
        return (number(central + 20, 4), number(central + 24, 4))
    }

    static func inflate(_ bytes: ArraySlice<UInt8>, algorithm: ZlibAlgorithm, url: String, maxBytes: Int)
        throws(FeedFailure) -> [UInt8]
    {
        var output: [UInt8] = []
        do {
            let decompressor = try ZlibDecompressor(algorithm: algorithm)
            var window = ByteBuffer(repeating: 0, count: 1 << 20)
            window.clear()
            var input = ByteBuffer(bytes: bytes)
            try input.decompressStream(with: decompressor, window: &window) { chunk in
                output.append(contentsOf: chunk.readableBytesView)
                if output.count > maxBytes {
                    throw FeedFailure("\(url) unpacks to more than max_size (\(maxBytes) bytes)")
                }
            }
        } catch let failure as FeedFailure {
            throw failure
        } catch {
            throw FeedFailure("\(url) is not a readable compressed file (\(error))")
        }
        return output
    }
}
