import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Which file a position belongs to: the device and inode, as integratord tells a rotated alerts.json apart.
public struct FileIdentity: Sendable, Equatable, Hashable {
    public var device: UInt64
    public var inode: UInt64

    public init(device: UInt64, inode: UInt64) {
        self.device = device
        self.inode = inode
    }

    init(_ status: stat) {
        device = UInt64(status.st_dev)
        inode = UInt64(status.st_ino)
    }

    static func of(path: String) -> (FileIdentity, size: UInt64)? {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        return (FileIdentity(status), UInt64(status.st_size))
    }
}

/// One complete line of an alerts file and where it lies.
public struct FollowedLine: Sendable {
    public var bytes: [UInt8]
    public var identity: FileIdentity
    /// Offset of the line's first byte and of the byte after its newline.
    public var start: UInt64
    public var end: UInt64
}

/// Follows alerts.json as Wazuh writes it: complete lines only (a half-written line waits), through daily
/// rotation (at the end of the old file, a new inode at the path is read from its start) and truncation
/// (the file shorter than the position: read again from 0). Lines over 64 KiB are skipped and counted, as
/// integratord does; a missing file is waited for.
public final class AlertsFollower {
    public let path: String
    public let maxLineBytes: Int
    public private(set) var overlongLines = 0
    public private(set) var truncations = 0
    public private(set) var rotations = 0
    /// What happened, for the daemon's log.
    let log: (String) -> Void

    private var descriptor: Int32 = -1
    private var identity: FileIdentity?
    private var readOffset: UInt64 = 0
    private var pending: [UInt8] = []
    private var pendingStart: UInt64 = 0
    private var skippingOverlong = false
    private var reportedMissing = false
    /// A rotated file to finish first (found from a checkpoint), then the live path from 0.
    private var catchUpPath: String?

    /// - Parameters:
    ///   - resume: where to start: a file identity and offset (from a checkpoint), or nil for `atEnd`.
    ///   - atEnd: with no checkpoint, start at the end of the file as integratord does (else at its start).
    public init(
        path: String,
        resume: (FileIdentity, UInt64)?,
        atEnd: Bool,
        maxLineBytes: Int = 65_536,
        log: @escaping (String) -> Void = { _ in }
    ) {
        self.path = path
        self.maxLineBytes = maxLineBytes
        self.log = log
        guard let (wanted, offset) = resume else {
            if atEnd, let (current, size) = FileIdentity.of(path: path), open(path) {
                identity = current
                seek(to: size)
            }
            return
        }
        if let (current, size) = FileIdentity.of(path: path), current == wanted {
            if open(path) { seek(to: size >= offset ? offset : 0) }
            return
        }
        // Rotated while we were stopped: finish the old file if it is still in the alerts directory.
        if let old = Self.find(wanted, near: path) {
            catchUpPath = old
            if open(old) { seek(to: offset) }
            log("resuming \(old) (rotated while stopped) at byte \(offset), then \(path) from its start")
        } else {
            log("the file read before the restart is no longer in the alerts directory; reading \(path) from its start")
        }
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
    }

    /// The identity and offset up to which everything has been handed out (the start of the unfinished line).
    public var position: (FileIdentity, UInt64)? {
        identity.map { ($0, pendingStart) }
    }

    /// Bytes written to the live file that have not been read yet.
    public var lagBytes: UInt64 {
        guard let (current, size) = FileIdentity.of(path: path) else { return 0 }
        return current == identity ? size - min(size, pendingStart) : size
    }

    /// Complete lines available now, at most `limit`.
    public func nextLines(_ limit: Int) -> [FollowedLine] {
        var lines: [FollowedLine] = []
        while lines.count < limit {
            if takeLine(into: &lines) { continue }
            if readChunk() { continue }
            if switchFileIfNeeded() { continue }
            break
        }
        return lines
    }

    private func takeLine(into lines: inout [FollowedLine]) -> Bool {
        guard let identity, let newline = pending.firstIndex(of: 0x0A) else {
            if pending.count > maxLineBytes {
                if !skippingOverlong {
                    overlongLines += 1
                    log("skipped a line over \(maxLineBytes) bytes at byte \(pendingStart) of \(currentPath)")
                }
                skippingOverlong = true
                pendingStart += UInt64(pending.count)
                pending.removeAll(keepingCapacity: true)
            }
            return false
        }
        let start = pendingStart
        let end = start + UInt64(newline) + 1
        if skippingOverlong {
            skippingOverlong = false
        } else if newline > maxLineBytes {
            overlongLines += 1
            log("skipped a line over \(maxLineBytes) bytes at byte \(start) of \(currentPath)")
        } else if newline > 0 {
            lines.append(FollowedLine(bytes: Array(pending[..<newline]), identity: identity, start: start, end: end))
        }
        pending.removeSubrange(...newline)
        pendingStart = end
        return true
    }

    private var currentPath: String { catchUpPath ?? path }

    private func readChunk() -> Bool {
        guard descriptor >= 0 else {
            if open(path) {
                readOffset = 0
                pendingStart = 0
                return true
            }
            return false
        }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        let count = read(descriptor, &buffer, buffer.count)
        guard count > 0 else { return false }
        pending.append(contentsOf: buffer[..<count])
        readOffset += UInt64(count)
        return true
    }

    /// At the end of the open file: a new file at the path (rotation), a shorter one (truncation), or wait.
    private func switchFileIfNeeded() -> Bool {
        if let catchUp = catchUpPath {
            log("finished \(catchUp); continuing with \(path)")
            catchUpPath = nil
            reopen(fromStart: true)
            return true
        }
        guard let (current, size) = FileIdentity.of(path: path) else {
            if !reportedMissing {
                log("\(path) is missing; waiting for it to come back")
                reportedMissing = true
            }
            return false
        }
        reportedMissing = false
        if current != identity {
            if !pending.isEmpty {
                log("\(path) was rotated with an unfinished last line of \(pending.count) bytes; it was skipped")
            }
            rotations += 1
            log("\(path) was rotated; reading the new file from its start")
            reopen(fromStart: true)
            return true
        }
        if size < readOffset {
            truncations += 1
            log("\(path) was truncated to \(size) bytes; reading it again from its start")
            reopen(fromStart: true)
            return true
        }
        return false
    }

    private func reopen(fromStart: Bool) {
        if descriptor >= 0 { close(descriptor) }
        descriptor = -1
        identity = nil
        pending.removeAll()
        skippingOverlong = false
        readOffset = 0
        pendingStart = 0
        if open(path) { seek(to: 0) }
    }

    private func open(_ file: String) -> Bool {
        let opened = Glibc.open(file, O_RDONLY | O_CLOEXEC)
        guard opened >= 0 else { return false }
        var status = stat()
        fstat(opened, &status)
        if descriptor >= 0 { close(descriptor) }
        descriptor = opened
        identity = FileIdentity(status)
        return true
    }

    private func seek(to offset: UInt64) {
        lseek(descriptor, off_t(offset), SEEK_SET)
        readOffset = offset
        pendingStart = offset
        pending.removeAll()
    }

    /// A regular file with this identity below the alerts directory (Wazuh moves alerts.json to
    /// `alerts/<year>/<Mon>/ossec-alerts-<dd>.json` when it rotates).
    static func find(_ identity: FileIdentity, near path: String) -> String? {
        let folder = (path as NSString).deletingLastPathComponent
        guard let walker = FileManager.default.enumerator(atPath: folder) else { return nil }
        for case let relative as String in walker where relative.hasSuffix(".json") || relative.hasSuffix(".log") {
            let candidate = folder + "/" + relative
            if let (found, _) = FileIdentity.of(path: candidate), found == identity { return candidate }
        }
        return nil
    }
}
