import CompressNIO
import Foundation
import NIOCore

/// The lines of a saved alerts file, read in chunks: plain NDJSON (`alerts.json`) or gzip as Wazuh archives
/// them (`ossec-alerts-22.json.gz`, detected by its magic bytes). Lines longer than `maxLineBytes` are
/// skipped and counted, as integratord skips them (docs/wazuh.md §1).
public final class AlertFileReader {
    public let path: String
    public let maxLineBytes: Int
    /// Lines skipped for their length.
    public private(set) var overlongLines = 0
    /// Bytes read from the file so far (compressed bytes for gzip), for progress.
    public private(set) var bytesRead = 0
    public let fileSize: Int

    private let handle: FileHandle
    private var decompressor: ZlibDecompressor?
    private var window = ByteBuffer()
    private var pending: [UInt8] = []
    private var skippingOverlong = false
    private var atEnd = false
    private var lineNumber = 0

    public init(path: String, maxLineBytes: Int = 65_536) throws(IntegrationFailure) {
        self.path = path
        self.maxLineBytes = maxLineBytes
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw IntegrationFailure(.alertFileMissing, "cannot open \(path): it does not exist or is not readable")
        }
        self.handle = handle
        fileSize = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        let magic = (try? handle.read(upToCount: 2)) ?? nil
        try? handle.seek(toOffset: 0)
        if magic.map(Array.init) == [0x1F, 0x8B] {
            do {
                decompressor = try ZlibDecompressor(algorithm: .gzip)
            } catch {
                throw IntegrationFailure(.alertFileMissing, "cannot start decompressing \(path): \(error)")
            }
            window = ByteBuffer(repeating: 0, count: 1 << 20)
            window.clear()
        }
    }

    deinit {
        try? handle.close()
    }

    /// Up to `count` lines (with their 1-based numbers); an empty answer means the file is done.
    public func nextLines(_ count: Int) throws(IntegrationFailure) -> [(number: Int, bytes: [UInt8])] {
        var lines: [(number: Int, bytes: [UInt8])] = []
        while lines.count < count {
            if let newline = pending.firstIndex(of: 0x0A) {
                lineNumber += 1
                if skippingOverlong {
                    skippingOverlong = false
                } else if newline > maxLineBytes {
                    overlongLines += 1
                } else if newline > 0 {
                    lines.append((lineNumber, Array(pending[..<newline])))
                }
                pending.removeSubrange(...newline)
                continue
            }
            if pending.count > maxLineBytes {
                // The rest of this line is not kept: only its end is looked for.
                if !skippingOverlong { overlongLines += 1 }
                skippingOverlong = true
                pending.removeAll(keepingCapacity: true)
            }
            if atEnd {
                // A last line without a newline still counts (a truncated one fails as JSON later).
                if !pending.isEmpty && !skippingOverlong {
                    lineNumber += 1
                    lines.append((lineNumber, pending))
                }
                pending.removeAll()
                return lines
            }
            try fill()
        }
        return lines
    }

    private func fill() throws(IntegrationFailure) {
        let chunk: Data
        do {
            chunk = try handle.read(upToCount: 1 << 20) ?? Data()
        } catch {
            throw IntegrationFailure(.alertFileMissing, "cannot read \(path): \(error.localizedDescription)")
        }
        guard !chunk.isEmpty else {
            atEnd = true
            return
        }
        bytesRead += chunk.count
        guard let decompressor else {
            pending.append(contentsOf: chunk)
            return
        }
        var compressed = ByteBuffer(bytes: chunk)
        do {
            try compressed.decompressStream(with: decompressor, window: &window) { output in
                pending.append(contentsOf: output.readableBytesView)
            }
            // The window keeps what it handed over last; start the next chunk empty.
            window.clear()
        } catch {
            throw IntegrationFailure(.alertNotJSON, "\(path) is not valid gzip (\(error)); is the archive complete?")
        }
    }
}
