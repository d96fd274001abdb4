import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A real HTTP server on 127.0.0.1 that answers like a provider: tests give it the provider's real
/// shapes (docs/sources.md), its errors, 429s, hangs and malformed bodies, and read back what was asked.
public final class MockProviderServer: Sendable {
    public struct Request: Sendable {
        public var method: String
        /// Path and query, as sent.
        public var uri: String
        /// Header names lowercased.
        public var headers: [String: String]
        public var body: [UInt8]

        public var bodyText: String { String(decoding: body, as: UTF8.self) }
    }

    public enum Reply: Sendable {
        case json(Int, String, headers: [(String, String)] = [])
        case raw(Int, [UInt8], headers: [(String, String)] = [])
        /// Accept the request and never answer.
        case hang
        /// Answer after a pause, as a slow provider does.
        indirect case delayed(milliseconds: Int64, Reply)
        /// Promise `claimedLength` bytes, send `body`, and close the connection: a download cut short.
        case cutShort(Int, [UInt8], claimedLength: Int)
        /// Stream `chunk` again and again (chunked, no length) up to `totalBytes`, as fast as the client reads:
        /// a body far larger than any client should take.
        case endless(Int, chunk: [UInt8], totalBytes: Int)
    }

    public typealias Handler = @Sendable (Request) -> Reply

    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    /// Every request received, in order.
    public final class RequestLog: Sendable {
        let entries = Mutex<[Request]>([])
    }

    private let received = RequestLog()
    public let port: Int

    public var baseURL: String { "http://127.0.0.1:\(port)" }
    public var requests: [Request] { received.entries.withLock { $0 } }

    /// - Parameters:
    ///   - requested: the port to listen on; 0 for one of the kernel's choosing.
    public init(port requested: Int = 0, _ handler: @escaping Handler) async throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let received = self.received
        channel = try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(RequestHandler(handler: handler, received: received))
                }
            }
            .bind(host: "127.0.0.1", port: requested)
            .get()
        port = channel.localAddress?.port ?? 0
    }

    public func shutdown() async throws {
        try await channel.close()
        try await group.shutdownGracefully()
    }

    /// Runs `body` with a server and always shuts it down.
    public static func with<T>(_ handler: @escaping Handler, _ body: (MockProviderServer) async throws -> T)
        async throws -> T
    {
        let server = try await MockProviderServer(handler)
        do {
            let value = try await body(server)
            try await server.shutdown()
            return value
        } catch {
            try? await server.shutdown()
            throw error
        }
    }

    private final class RequestHandler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let handler: Handler
        let received: RequestLog
        var head: HTTPRequestHead?
        var body: [UInt8] = []

        init(handler: @escaping Handler, received: RequestLog) {
            self.handler = handler
            self.received = received
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                body = []
            case .body(var buffer):
                body += buffer.readBytes(length: buffer.readableBytes) ?? []
            case .end:
                guard let head else { return }
                var headers: [String: String] = [:]
                for (name, value) in head.headers { headers[name.lowercased()] = value }
                let request = Request(method: head.method.rawValue, uri: head.uri, headers: headers, body: body)
                received.entries.withLock { $0.append(request) }
                send(handler(request), version: head.version, context: context)
            }
        }

        /// Writes the next chunk once the last is written; stops when the client has gone.
        func stream(_ chunk: [UInt8], remaining: Int, context: ChannelHandlerContext) {
            guard remaining > 0 else {
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                return
            }
            guard context.channel.isActive else { return }
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: chunk))))).whenSuccess {
                let (handler, context) = loopBound.value
                handler.stream(chunk, remaining: remaining - chunk.count, context: context)
            }
        }

        func send(_ reply: Reply, version: HTTPVersion, context: ChannelHandlerContext) {
            let status: Int
            let bytes: [UInt8]
            let extra: [(String, String)]
            switch reply {
            case .hang:
                return
            case .delayed(let milliseconds, let later):
                let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                context.eventLoop.scheduleTask(in: .milliseconds(milliseconds)) {
                    let (handler, context) = loopBound.value
                    handler.send(later, version: version, context: context)
                }
                return
            case .json(let code, let text, let headers):
                (status, bytes, extra) = (code, Array(text.utf8), [("Content-Type", "application/json")] + headers)
            case .raw(let code, let data, let headers):
                (status, bytes, extra) = (code, data, headers)
            case .cutShort(let code, let data, let claimed):
                var head = HTTPResponseHead(version: version, status: HTTPResponseStatus(statusCode: code))
                head.headers.add(name: "Content-Length", value: String(claimed))
                context.write(wrapOutboundOut(.head(head)), promise: nil)
                let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
                context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: data)))))
                    .whenComplete { _ in bound.value.close(promise: nil) }
                return
            case .endless(let code, let chunk, let total):
                var head = HTTPResponseHead(version: version, status: HTTPResponseStatus(statusCode: code))
                head.headers.add(name: "Transfer-Encoding", value: "chunked")
                context.write(wrapOutboundOut(.head(head)), promise: nil)
                stream(chunk, remaining: total, context: context)
                return
            }
            var responseHead = HTTPResponseHead(version: version, status: HTTPResponseStatus(statusCode: status))
            for (name, value) in extra { responseHead.headers.add(name: name, value: value) }
            responseHead.headers.add(name: "Content-Length", value: String(bytes.count))
            context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: bytes)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}
