import VerdictStore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// analysisd's queue: an AF_UNIX datagram socket at `<wazuh>/queue/sockets/queue` (docs/wazuh.md §2).
/// Sends never block: a full socket is retried until the deadline, then reported, so a stalled analysisd
/// cannot hang the integration.
public final class QueueSocket: Sendable {
    public let path: String
    private let descriptor: Int32

    /// Connects to the socket; the errors name the two usual causes (analysisd never started, or stopped).
    public init(path: String) throws(IntegrationFailure) {
        self.path = path
        let capacity = UnixSocket.pathCapacity
        guard path.utf8.count < capacity else {
            throw IntegrationFailure(.socketFailed, "queue socket path \(path) is longer than \(capacity - 1) bytes")
        }
        #if canImport(Glibc) || canImport(Musl)
        let type = Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        #else
        let type = SOCK_DGRAM
        #endif
        let made = socket(AF_UNIX, type, 0)
        guard made >= 0 else {
            throw IntegrationFailure(.socketFailed, "cannot create a socket: \(Self.errorText(errno))")
        }
        descriptor = made
        let code = UnixSocket.dial(made, to: path)
        guard code == 0 else {
            close(made)
            switch code {
            case ENOENT:
                throw IntegrationFailure(
                    .socketMissing,
                    "queue socket \(path) does not exist (ENOENT): wazuh-analysisd is not running here; start the manager"
                )
            case ECONNREFUSED:
                throw IntegrationFailure(
                    .analysisdRefusing,
                    "queue socket \(path) refused the connection (ECONNREFUSED): wazuh-analysisd has stopped; restart it"
                )
            default:
                throw IntegrationFailure(.socketFailed, "cannot connect to \(path): \(Self.errorText(code))")
            }
        }
    }

    deinit {
        close(descriptor)
    }

    /// Sends one datagram, waiting for room until `deadline`; the wait for room (a `poll` loop) runs on a
    /// thread of its own, off Swift's cooperative pool.
    public func send(_ datagram: [UInt8], deadline: ContinuousClock.Instant) async throws(IntegrationFailure) {
        let sent = datagram.withUnsafeBytes { raw in
            sendto(descriptor, raw.baseAddress, raw.count, Int32(MSG_DONTWAIT) | Int32(MSG_NOSIGNAL), nil, 0)
        }
        if sent == datagram.count { return }
        do {
            try await runBlocking { try self.sendWaiting(datagram, deadline: deadline) }
        } catch let failure as IntegrationFailure {
            throw failure
        } catch {
            throw IntegrationFailure(.socketFailed, "cannot send to \(path): \(error)")
        }
    }

    /// Sends one datagram, waiting for room until `deadline` (a `ContinuousClock` instant). Blocks its thread.
    func sendWaiting(_ datagram: [UInt8], deadline: ContinuousClock.Instant) throws(IntegrationFailure) {
        while true {
            let sent = datagram.withUnsafeBytes { raw in
                sendto(descriptor, raw.baseAddress, raw.count, Int32(MSG_DONTWAIT) | Int32(MSG_NOSIGNAL), nil, 0)
            }
            if sent == datagram.count { return }
            let code = errno
            switch code {
            case EINTR:
                continue
            case EAGAIN, ENOBUFS:
                guard ContinuousClock.now < deadline else {
                    throw IntegrationFailure(
                        .socketBusy,
                        "queue socket \(path) stayed full until the time budget ran out: wazuh-analysisd is not reading"
                    )
                }
                var pending = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
                _ = poll(&pending, 1, 20)
            case EMSGSIZE:
                throw IntegrationFailure(
                    .messageTooLarge,
                    "queue socket \(path) refused a \(datagram.count)-byte event as too large (EMSGSIZE)"
                )
            case ECONNREFUSED, ENOTCONN:
                throw IntegrationFailure(
                    .analysisdRefusing,
                    "queue socket \(path) refused the event (ECONNREFUSED): wazuh-analysisd has stopped; restart it"
                )
            default:
                throw IntegrationFailure(.socketFailed, "cannot send to \(path): \(Self.errorText(code))")
            }
        }
    }

    static func errorText(_ code: Int32) -> String {
        String(cString: strerror(code)) + " (errno \(code))"
    }
}

/// Connecting to Wazuh's AF_UNIX sockets (the queue, analysisd's control socket).
enum UnixSocket {
    /// Bytes a socket path may hold, with its terminating zero.
    static let pathCapacity = MemoryLayout.size(ofValue: sockaddr_un().sun_path)

    /// Connects `descriptor` to the socket at `path`: 0, or the errno (ENAMETOOLONG for a path too long).
    static func dial(_ descriptor: Int32, to path: String) -> Int32 {
        let utf8 = Array(path.utf8)
        guard utf8.count < pathCapacity else { return ENAMETOOLONG }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in utf8.enumerated() { raw[index] = byte }
            raw[utf8.count] = 0
        }
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        return connected == 0 ? 0 : errno
    }
}
