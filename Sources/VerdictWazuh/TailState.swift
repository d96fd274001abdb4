import Foundation
import VerdictStore

#if canImport(Glibc)
import Glibc
#endif

/// Where `verdict tail` is: the file (identity), the offset of the first alert not finished, and how many of
/// that alert's events are already written. One fixed-width record rewritten in place with one `pwrite`, so a
/// process killed at any moment leaves either the old record or the new one, never half of each.
public final class TailCheckpoint {
    public struct Record: Sendable, Equatable {
        public var identity: FileIdentity
        public var offset: UInt64
        public var eventsWritten: Int

        public init(identity: FileIdentity, offset: UInt64, eventsWritten: Int) {
            self.identity = identity
            self.offset = offset
            self.eventsWritten = eventsWritten
        }
    }

    public let path: String
    private let descriptor: Int32

    public init(path: String) throws(IntegrationFailure) {
        self.path = path
        descriptor = PrivateFile.open(path, O_RDWR | O_CREAT, mode: 0o640)
        if descriptor >= 0 { PrivateFile.share(descriptor, likeFolder: (path as NSString).deletingLastPathComponent) }
        guard descriptor >= 0 else {
            throw IntegrationFailure(
                .badSettings,
                "cannot open the checkpoint \(path): \(PrivateFile.reason(errno)); check VERDICT_DATA_DIR and its permissions"
            )
        }
    }

    deinit {
        close(descriptor)
    }

    public func load() -> Record? {
        var buffer = [UInt8](repeating: 0, count: Self.width)
        guard pread(descriptor, &buffer, Self.width, 0) == Self.width else { return nil }
        let fields = String(decoding: buffer, as: UTF8.self).split(separator: " ").map {
            $0.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard fields.count == 5, fields[0] == "v1", let device = UInt64(fields[1]), let inode = UInt64(fields[2]),
            let offset = UInt64(fields[3]), let written = Int(fields[4])
        else { return nil }
        return Record(identity: FileIdentity(device: device, inode: inode), offset: offset, eventsWritten: written)
    }

    public func save(_ record: Record) {
        let text =
            "v1 " + Self.padded(record.identity.device) + " " + Self.padded(record.identity.inode) + " "
            + Self.padded(record.offset) + " " + Self.padded(UInt64(record.eventsWritten)) + "\n"
        _ = Array(text.utf8).withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
    }

    /// `v1 ` + four 20-digit numbers separated by spaces + a newline.
    static let width = 3 + 4 * 20 + 3 + 1
    static func padded(_ value: UInt64) -> String {
        let digits = String(value)
        return String(repeating: "0", count: 20 - digits.count) + digits
    }
}

/// Events waiting for analysisd: appended in order while its socket is missing or refusing, sent in order
/// when it is back. Records are `[4-byte length][datagram]` in one file; the read position is a second
/// fixed-width record. Bounded: when full, the daemon stops reading alerts until it drains.
public final class EventSpool {
    public let folder: String
    public let limitBytes: UInt64
    private let data: Int32
    private let position: Int32
    public private(set) var readOffset: UInt64 = 0
    public private(set) var endOffset: UInt64 = 0
    public private(set) var depth = 0

    public init(folder: String, limitBytes: UInt64) throws(IntegrationFailure) {
        self.folder = folder
        self.limitBytes = limitBytes
        _ = PrivateFile.makeSharedFolder(folder)
        data = PrivateFile.open(folder + "/events.spool", O_RDWR | O_CREAT, mode: 0o640)
        position = PrivateFile.open(folder + "/events.spool.read", O_RDWR | O_CREAT, mode: 0o640)
        // Whoever made them (root, or `wazuh`), the next tail of the other identity can go on.
        for descriptor in [data, position] where descriptor >= 0 { PrivateFile.share(descriptor, likeFolder: folder) }
        guard data >= 0, position >= 0 else {
            throw IntegrationFailure(
                .badSettings,
                "cannot open the spool in \(folder): \(PrivateFile.reason(errno)); check VERDICT_DATA_DIR and its permissions"
            )
        }
        var status = stat()
        fstat(data, &status)
        endOffset = UInt64(status.st_size)
        var buffer = [UInt8](repeating: 0, count: 21)
        if pread(position, &buffer, 21, 0) == 21,
            let saved = UInt64(String(decoding: buffer.prefix(20), as: UTF8.self))
        {
            readOffset = min(saved, endOffset)
        }
        depth = countRecords()
    }

    deinit {
        close(data)
        close(position)
    }

    public var isEmpty: Bool { readOffset >= endOffset }
    public var sizeBytes: UInt64 { endOffset - readOffset }

    /// Whether `bytes` more would pass the limit.
    public func wouldOverflow(_ bytes: Int) -> Bool { endOffset + UInt64(bytes + 4) - readOffset > limitBytes }

    public func append(_ datagram: [UInt8]) {
        var record = withUnsafeBytes(of: UInt32(datagram.count).littleEndian) { Array($0) }
        record += datagram
        _ = record.withUnsafeBytes { pwrite(data, $0.baseAddress, $0.count, off_t(endOffset)) }
        endOffset += UInt64(record.count)
        depth += 1
    }

    /// The oldest datagram, without removing it.
    public func peek() -> [UInt8]? {
        guard !isEmpty else { return nil }
        var header = [UInt8](repeating: 0, count: 4)
        guard pread(data, &header, 4, off_t(readOffset)) == 4 else { return nil }
        let length = Int(UInt32(littleEndian: header.withUnsafeBytes { $0.load(as: UInt32.self) }))
        var datagram = [UInt8](repeating: 0, count: length)
        guard pread(data, &datagram, length, off_t(readOffset + 4)) == length else { return nil }
        return datagram
    }

    /// Forgets the oldest datagram (it was sent); empties the files when nothing is left.
    public func removeFirst() {
        guard let datagram = peek() else { return }
        readOffset += UInt64(datagram.count + 4)
        depth -= 1
        if readOffset >= endOffset {
            ftruncate(data, 0)
            readOffset = 0
            endOffset = 0
            depth = 0
        }
        let text = TailCheckpoint.padded(readOffset) + "\n"
        _ = Array(text.utf8).withUnsafeBytes { pwrite(position, $0.baseAddress, $0.count, 0) }
    }

    private func countRecords() -> Int {
        var count = 0
        var offset = readOffset
        var header = [UInt8](repeating: 0, count: 4)
        while offset + 4 <= endOffset, pread(data, &header, 4, off_t(offset)) == 4 {
            offset += 4 + UInt64(UInt32(littleEndian: header.withUnsafeBytes { $0.load(as: UInt32.self) }))
            count += 1
        }
        return count
    }
}
