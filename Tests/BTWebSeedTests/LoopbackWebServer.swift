import Foundation
import NIOCore
import NIOPosix

/// A tiny HTTP/1.1 server on 127.0.0.1 for driver tests: reads each request head (keep-alive), hands the
/// path and headers to `respond`, and writes back the raw bytes it returns (closing when they ask to).
final class LoopbackWebServer: Sendable {
    struct Request: Sendable {
        let path: String
        let headers: [String: String]
        var range: (first: Int, last: Int)? {
            guard let value = headers["range"], value.hasPrefix("bytes=") else { return nil }
            let parts = value.dropFirst(6).split(separator: "-").compactMap { Int($0) }
            return parts.count == 2 ? (parts[0], parts[1]) : nil
        }
    }

    let channel: any Channel
    var port: Int { channel.localAddress!.port! }

    init(respond: @escaping @Sendable (Request) -> (bytes: [UInt8], close: Bool)) async throws {
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Handler(respond: respond))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    func close() async {
        try? await channel.close()
    }

    /// A `206` answer with `body` for the range asked of `file`.
    static func partial(_ file: [UInt8], _ request: Request, extra: String = "") -> [UInt8] {
        guard let (first, last) = request.range, last < file.count else {
            return Array("HTTP/1.1 416 Range Not Satisfiable\r\nContent-Length: 0\r\n\r\n".utf8)
        }
        let head =
            "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes \(first)-\(last)/\(file.count)\r\n"
            + "Content-Length: \(last - first + 1)\r\n\(extra)\r\n"
        return Array(head.utf8) + file[first...last]
    }

    private final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let respond: @Sendable (Request) -> (bytes: [UInt8], close: Bool)
        var pending: [UInt8] = []

        init(respond: @escaping @Sendable (Request) -> (bytes: [UInt8], close: Bool)) { self.respond = respond }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            pending += Array(unwrapInboundIn(data).readableBytesView)
            while let end = headEnd() {
                let head = String(decoding: pending[..<end], as: UTF8.self)
                pending.removeFirst(end + 4)
                let lines = head.components(separatedBy: "\r\n")
                let path = lines.first?.split(separator: " ").dropFirst().first.map(String.init) ?? "/"
                var headers: [String: String] = [:]
                for line in lines.dropFirst() {
                    guard let colon = line.firstIndex(of: ":") else { continue }
                    headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                        in: .whitespaces)
                }
                let answer = respond(Request(path: path, headers: headers))
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: answer.bytes)), promise: nil)
                if answer.close {
                    context.close(promise: nil)
                    return
                }
            }
        }

        private func headEnd() -> Int? {
            guard pending.count >= 4 else { return nil }
            for index in 0...(pending.count - 4)
            where pending[index] == 13 && pending[index + 1] == 10 && pending[index + 2] == 13
                && pending[index + 3] == 10
            {
                return index
            }
            return nil
        }
    }
}
