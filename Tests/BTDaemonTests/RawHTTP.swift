import NIOCore
import NIOPosix

/// Sends raw bytes to a loopback server and collects everything it answers until it closes (or a timeout):
/// a client that can send what no well-behaved HTTP library would.
enum RawHTTP {
    struct Answer {
        var text: String
        var status: Int? {
            let parts = text.split(separator: " ", maxSplits: 2)
            return parts.count >= 2 ? Int(parts[1]) : nil
        }
        var body: String {
            guard let range = text.range(of: "\r\n\r\n") else { return "" }
            return String(text[range.upperBound...])
        }
        func header(_ name: String) -> String? {
            for line in text.split(separator: "\r\n") {
                let parts = line.split(separator: ":", maxSplits: 1)
                if parts.count == 2, parts[0].lowercased() == name.lowercased() {
                    return parts[1].trimmingCharacters(in: .whitespaces)
                }
            }
            return nil
        }
    }

    private final class Collector: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let promise: EventLoopPromise<String>
        var received = ByteBuffer()
        init(promise: EventLoopPromise<String>) { self.promise = promise }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            received.writeBuffer(&buffer)
        }
        func channelInactive(context: ChannelHandlerContext) {
            promise.succeed(String(buffer: received))
        }
        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }

    /// Connects, writes `request` (in `chunks` pieces), and returns what came back before the server closed.
    static func exchange(_ request: [UInt8], port: Int, host: String = "127.0.0.1", timeout: TimeAmount = .seconds(10))
        async throws -> Answer
    {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let promise = loop.makePromise(of: String.self)
        let channel = try await ClientBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Collector(promise: promise))
                }
            }
            .connect(host: host, port: port).get()
        let timer = loop.scheduleTask(in: timeout) { channel.close(promise: nil) }
        channel.writeAndFlush(ByteBuffer(bytes: request), promise: nil)
        let text = try await promise.futureResult.get()
        timer.cancel()
        return Answer(text: text)
    }

    /// A POST to the RPC endpoint with `Connection: close`.
    static func post(
        _ body: String, port: Int, hostHeader: String? = nil, sessionID: String?, extraHeaders: [String] = []
    ) async throws -> Answer {
        var lines = ["POST /transmission/rpc HTTP/1.1", "Connection: close"]
        lines.append("Host: " + (hostHeader ?? "127.0.0.1:\(port)"))
        if let sessionID { lines.append("X-Transmission-Session-Id: \(sessionID)") }
        lines.append("Content-Length: \(body.utf8.count)")
        lines += extraHeaders
        return try await exchange(Array((lines.joined(separator: "\r\n") + "\r\n\r\n" + body).utf8), port: port)
    }
}
