import Foundation

/// TCP ports on 127.0.0.1 for tests: one held by a listening socket (a port in use), or one nobody listens on.
public enum LoopbackPort {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// A socket listening at a port of the kernel's choosing, and that port; close the descriptor when done.
    public static func listening() throws -> (descriptor: Int32, port: Int) {
        let descriptor = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw Failure(description: "socket() failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                bind(descriptor, generic, length) == 0 && listen(descriptor, 4) == 0
                    && getsockname(descriptor, generic, &length) == 0
            }
        }
        guard bound else {
            Foundation.close(descriptor)
            throw Failure(description: "bind() failed")
        }
        return (descriptor, Int(UInt16(bigEndian: address.sin_port)))
    }

    /// A port nobody listens on now (bound, read, closed).
    public static func free() throws -> Int {
        let (descriptor, port) = try listening()
        Foundation.close(descriptor)
        return port
    }
}
