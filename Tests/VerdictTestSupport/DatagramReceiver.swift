import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A real AF_UNIX datagram socket bound where analysisd binds its queue, collecting what is sent to it.
public final class DatagramReceiver: Sendable {
    public let path: String
    private let descriptor: Int32
    private let received = Mutex<[[UInt8]]>([])
    private let stopped = Atomic<Bool>(false)
    private let finished = Mutex<Bool>(false)

    /// Binds `path` (replacing a stale file) and starts reading, unless `reading` is false (a stalled analysisd).
    public init(path: String, reading: Bool = true) throws {
        self.path = path
        unlink(path)
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = Self.address(path)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        var timeout = timeval(tv_sec: 0, tv_usec: 50_000)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var size: Int32 = 1 << 20
        setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        guard reading else {
            finished.withLock { $0 = true }
            return
        }
        let thread = Thread { [self] in readUntilStopped() }
        thread.start()
    }

    /// Sends to the socket from a second socket until the kernel refuses more: the queue is full.
    public func fill() -> Int {
        let sender = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        defer { Glibc.close(sender) }
        var address = Self.address(path)
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(sender, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        let filler = [UInt8](repeating: 0x41, count: 4096)
        var count = 0
        while filler.withUnsafeBytes({ sendto(sender, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT), nil, 0) }) > 0 {
            count += 1
        }
        return count
    }

    static func address(_ path: String) -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let utf8 = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in utf8.enumerated() { raw[index] = byte }
            raw[utf8.count] = 0
        }
        return address
    }

    private func readUntilStopped() {
        var buffer = [UInt8](repeating: 0, count: 70_000)
        while !stopped.load(ordering: .acquiring) {
            let count = recv(descriptor, &buffer, buffer.count, 0)
            if count > 0 {
                let datagram = Array(buffer[0..<count])
                received.withLock { $0.append(datagram) }
            }
        }
        finished.withLock { $0 = true }
    }

    /// Everything received so far.
    public var datagrams: [[UInt8]] { received.withLock { $0 } }

    public var texts: [String] { datagrams.map { String(decoding: $0, as: UTF8.self) } }

    /// Waits until `count` datagrams arrived or `timeout` passed; returns what arrived.
    public func wait(for count: Int, timeout: Duration = .seconds(20)) async -> [String] {
        let deadline = ContinuousClock.now + timeout
        while datagrams.count < count && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        return texts
    }

    /// Stops reading and closes the socket; the file stays, as after analysisd stops (ECONNREFUSED).
    public func close() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        while !finished.withLock({ $0 }) { usleep(5_000) }
        Glibc.close(descriptor)
    }

    deinit {
        close()
    }
}
