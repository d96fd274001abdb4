import CVerdictRelay

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Where the warm engine listens: a Linux abstract Unix socket (no file to leave behind or to protect), named
/// after the user, the engine executable's identity and the working directory's. A rebuilt or upgraded engine
/// has a new name, so a relay never reaches an engine older than the executable it would otherwise run; runs
/// from another directory (another Wazuh home) get an engine of their own, whose working directory is theirs, as
/// relative paths expect. Both sides check the other's user with SO_PEERCRED, so a public name hands nothing
/// to another user.
public struct EngineAddress: Sendable, Equatable {
    public let name: String

    /// The engine at `executable` as it is on disk now, for runs in `workingDirectory`; nil when either is gone.
    public init?(executable: String, workingDirectory: String, user: uid_t) {
        var program = stat()
        var folder = stat()
        guard stat(executable, &program) == 0, stat(workingDirectory, &folder) == 0 else { return nil }
        let identity = [
            "\(program.st_dev)", "\(program.st_ino)", "\(program.st_size)",
            "\(program.st_mtim.tv_sec).\(program.st_mtim.tv_nsec)", "\(folder.st_dev)", "\(folder.st_ino)",
            workingDirectory,
        ].joined(separator: "\u{0}")
        // FNV-1a, 64 bits: the name must fit sockaddr_un, and only needs to differ between identities.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in identity.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        name = "verdict-engine-\(user)-" + String(repeating: "0", count: 16 - hex.count) + hex
    }

    func withSocketAddress<T>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        // An abstract name: a leading NUL, then the name's bytes, its length given by the address length.
        let bytes = Array(name.utf8.prefix(MemoryLayout.size(ofValue: address.sun_path) - 1))
        withUnsafeMutableBytes(of: &address.sun_path) { path in
            path[0] = 0
            for (offset, byte) in bytes.enumerated() { path[offset + 1] = byte }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + 1 + bytes.count)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) }
        }
    }
}

/// The few socket calls both ends need, on plain descriptors.
public enum EngineSocket {
    /// A connected stream socket to the engine, or nil with errno set when nobody listens there.
    public static func connect(to address: EngineAddress) -> Int32? {
        streamSocket { descriptor in
            // A stopped engine's full backlog would hold a blocking connect (and its sends) for ever.
            var timeout = timeval(tv_sec: 2, tv_usec: 0)
            setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            return address.withSocketAddress { Glibc.connect(descriptor, $0, $1) } == 0
        }
    }

    /// A listening socket at `address`; nil with errno set (EADDRINUSE: another engine has it).
    public static func listen(at address: EngineAddress) -> Int32? {
        streamSocket { descriptor in
            address.withSocketAddress { bind(descriptor, $0, $1) } == 0 && Glibc.listen(descriptor, 64) == 0
        }
    }

    /// A new Unix stream socket once `setUp` succeeds on it; else nil, the socket closed and errno `setUp`'s.
    static func streamSocket(_ setUp: (Int32) -> Bool) -> Int32? {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return nil }
        guard setUp(descriptor) else {
            let saved = errno
            close(descriptor)
            errno = saved
            return nil
        }
        return descriptor
    }

    /// The user on the other end of a connected Unix socket.
    public static func peerUser(_ descriptor: Int32) -> uid_t? {
        var user = uid_t()
        guard verdict_peer_user(descriptor, &user) == 0 else { return nil }
        return user
    }

    /// Sends all of `bytes`, with `descriptors` passed along the first part (SCM_RIGHTS). False on failure.
    public static func send(_ bytes: [UInt8], passing descriptors: [Int32], on socket: Int32) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let result = bytes.withUnsafeBytes { buffer -> Int in
                var vector = iovec(
                    iov_base: UnsafeMutableRawPointer(mutating: buffer.baseAddress! + sent),
                    iov_len: buffer.count - sent
                )
                var message = msghdr()
                return withUnsafeMutablePointer(to: &vector) { vectorPointer in
                    message.msg_iov = vectorPointer
                    message.msg_iovlen = 1
                    guard sent == 0, !descriptors.isEmpty else { return sendmsg(socket, &message, Int32(MSG_NOSIGNAL)) }
                    return withControlMessage(carrying: descriptors) { control, length in
                        message.msg_control = control
                        message.msg_controllen = length
                        return sendmsg(socket, &message, Int32(MSG_NOSIGNAL))
                    }
                }
            }
            if result < 0 && errno == EINTR { continue }
            guard result > 0 else { return false }
            sent += result
        }
        return true
    }

    /// Reads exactly `count` bytes, collecting descriptors passed along them (each CLOEXEC). Nil on failure or
    /// end of stream first; then no descriptor stays open.
    public static func receive(count: Int, on socket: Int32, descriptors: inout [Int32]) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        var received = 0
        let controlSpace = 64
        var control = [UInt8](repeating: 0, count: controlSpace)
        while received < count {
            let result = bytes.withUnsafeMutableBytes { buffer -> Int in
                var vector = iovec(iov_base: buffer.baseAddress! + received, iov_len: count - received)
                return withUnsafeMutablePointer(to: &vector) { vectorPointer in
                    control.withUnsafeMutableBytes { controlBuffer in
                        var message = msghdr()
                        message.msg_iov = vectorPointer
                        message.msg_iovlen = 1
                        message.msg_control = controlBuffer.baseAddress
                        message.msg_controllen = controlSpace
                        let result = recvmsg(socket, &message, Int32(MSG_CMSG_CLOEXEC))
                        if result >= 0 { descriptors += passedDescriptors(message) }
                        return result
                    }
                }
            }
            if result < 0 && errno == EINTR { continue }
            guard result > 0 else {
                for descriptor in descriptors { close(descriptor) }
                descriptors = []
                return nil
            }
            received += result
        }
        return bytes
    }

    /// One `\n`-terminated line, waiting at most `timeoutMilliseconds` for it; nil on timeout, error or end of
    /// stream.
    public static func readLine(on socket: Int32, timeoutMilliseconds: Int32) -> String? {
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while true {
            var waiting = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            let ready = poll(&waiting, 1, timeoutMilliseconds)
            if ready < 0 && errno == EINTR { continue }
            guard ready > 0 else { return nil }
            let result = read(socket, &byte, 1)
            if result < 0 && errno == EINTR { continue }
            guard result == 1 else { return nil }
            if byte == UInt8(ascii: "\n") { return String(decoding: line, as: UTF8.self) }
            line.append(byte)
            guard line.count < 256 else { return nil }
        }
    }

    static func withControlMessage<T>(
        carrying descriptors: [Int32],
        _ body: (UnsafeMutableRawPointer, Int) -> T
    ) -> T {
        let dataLength = descriptors.count * MemoryLayout<Int32>.size
        let headerLength = MemoryLayout<cmsghdr>.size
        let space = headerLength + ((dataLength + MemoryLayout<Int>.size - 1) & ~(MemoryLayout<Int>.size - 1))
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: space, alignment: MemoryLayout<cmsghdr>.alignment)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: space)
        let header = buffer.assumingMemoryBound(to: cmsghdr.self)
        header.pointee.cmsg_len = headerLength + dataLength
        header.pointee.cmsg_level = SOL_SOCKET
        header.pointee.cmsg_type = Int32(SCM_RIGHTS)
        for (index, descriptor) in descriptors.enumerated() {
            buffer.storeBytes(
                of: descriptor,
                toByteOffset: headerLength + index * MemoryLayout<Int32>.size,
                as: Int32.self
            )
        }
        return body(buffer, space)
    }

    static func passedDescriptors(_ message: msghdr) -> [Int32] {
        guard let control = message.msg_control, message.msg_controllen >= MemoryLayout<cmsghdr>.size else { return [] }
        var descriptors: [Int32] = []
        var offset = 0
        let headerLength = MemoryLayout<cmsghdr>.size
        while offset + headerLength <= message.msg_controllen {
            let header = control.load(fromByteOffset: offset, as: cmsghdr.self)
            guard header.cmsg_len >= headerLength else { break }
            if header.cmsg_level == SOL_SOCKET && header.cmsg_type == Int32(SCM_RIGHTS) {
                let count = (Int(header.cmsg_len) - headerLength) / MemoryLayout<Int32>.size
                for index in 0..<count {
                    descriptors.append(
                        control.loadUnaligned(
                            fromByteOffset: offset + headerLength + index * MemoryLayout<Int32>.size,
                            as: Int32.self
                        )
                    )
                }
            }
            offset += (Int(header.cmsg_len) + MemoryLayout<Int>.size - 1) & ~(MemoryLayout<Int>.size - 1)
        }
        return descriptors
    }
}
