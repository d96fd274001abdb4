import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// An HTTP/1.1 client on a plain socket that sends what it is told, when it is told: a request head and part
/// of a body, then nothing, as a slow or hostile client does. Blocking calls; run them off the cooperative pool.
public final class RawHTTPConnection: @unchecked Sendable {
    public struct Answer: Sendable {
        public var status: Int
        public var headers: [String: String]
        public var body: String
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    let socket: Int32

    /// Connects to 127.0.0.1:`port`; reads wait at most `readTimeoutSeconds`.
    public init(port: Int, readTimeoutSeconds: Int = 30) throws {
        socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw Failure(description: "socket() failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            close(socket)
            throw Failure(description: "cannot connect to 127.0.0.1:\(port) (errno \(errno))")
        }
        var timeout = timeval(tv_sec: readTimeoutSeconds, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(socket) }

    public func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let written = bytes[sent...].withUnsafeBytes {
                Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            guard written > 0 else { throw Failure(description: "send failed (errno \(errno))") }
            sent += written
        }
    }

    /// A POST head with `Content-Length: declaredLength` and the first `body` bytes of it.
    public func startPost(path: String, key: String, declaredLength: Int, body: String) throws {
        try send(
            "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(key)\r\n"
                + "Content-Type: application/json\r\nContent-Length: \(declaredLength)\r\n\r\n\(body)"
        )
    }

    /// A lookup whose head promises `declaredLength` bytes and whose body stops after `body`, as a client that
    /// trickles does; then a pause, so the server takes it in hand before whatever the test sends next.
    public static func stalledLookup(
        port: Int,
        key: String,
        declaredLength: Int = 1000,
        body: String = #"{"indicators": ["185"#
    ) async throws -> RawHTTPConnection {
        let connection = try RawHTTPConnection(port: port)
        try connection.startPost(path: "/v1/enrichment/lookup", key: key, declaredLength: declaredLength, body: body)
        try await Task.sleep(for: .milliseconds(200))
        return connection
    }

    /// Reads one whole answer (head, and a body of its Content-Length), or throws at the read timeout.
    public func readAnswer() throws -> Answer {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            if let end = Self.headEnd(received) {
                let head = String(decoding: received[..<end], as: UTF8.self).components(separatedBy: "\r\n")
                let parts = head.first?.split(separator: " ") ?? []
                guard parts.count >= 2, let status = Int(parts[1]) else {
                    throw Failure(description: "not an HTTP answer: \(head.first ?? "")")
                }
                var headers: [String: String] = [:]
                for line in head.dropFirst() {
                    guard let colon = line.firstIndex(of: ":") else { continue }
                    headers[line[..<colon].lowercased()] = line[line.index(after: colon)...]
                        .trimmingCharacters(in: .whitespaces)
                }
                let length = Int(headers["content-length"] ?? "0") ?? 0
                let bodyStart = end + 4
                if received.count - bodyStart >= length {
                    let body = String(decoding: received[bodyStart..<(bodyStart + length)], as: UTF8.self)
                    return Answer(status: status, headers: headers, body: body)
                }
            }
            let count = recv(socket, &buffer, buffer.count, 0)
            guard count > 0 else {
                throw Failure(description: count == 0 ? "the server closed the connection" : "no answer in time")
            }
            received += buffer[..<count]
        }
    }

    static func headEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for index in 0...(bytes.count - 4)
        where bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13 && bytes[index + 3] == 10 {
            return index
        }
        return nil
    }

    /// Runs `work` on a thread of its own and waits for it without holding a cooperative thread.
    public static func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try work() }) }.start()
        }
    }
}
