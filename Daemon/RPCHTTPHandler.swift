import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// One HTTP connection's requests: route, gate, body collection within the limit, dispatch, answer.
final class RPCHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        /// Between requests.
        case idle
        /// Collecting an admitted RPC request's body.
        case collecting(HTTPRequestHead, ByteBuffer)
        /// Discarding a request's body; the answer is sent at its end.
        case answering(HTTPRequestHead, Answer)
        /// Dispatched; waiting for the answer.
        case waiting
        /// Answered 413 in the middle of a body: the rest is read and dropped (so closing does not reset the
        /// connection under the answer) until the request ends or too much more arrives.
        case draining(Int)
        /// Closing after a fatal answer; everything else is ignored.
        case closing
    }

    private enum Answer {
        case text(status: Int, headers: [String: String], body: String)
        case file(String)
        case rpc(ByteBuffer)
    }

    private let gate: RPCGate
    private let dispatcher: RPCDispatcher
    private let web: WebFolder?
    private let metrics: PrometheusMetrics?
    private let logger: Logger
    private var state = State.idle
    /// Body bytes of a refused request dropped so far.
    private var discarded = 0

    init(gate: RPCGate, dispatcher: RPCDispatcher, web: WebFolder?, metrics: PrometheusMetrics?, logger: Logger) {
        self.gate = gate
        self.dispatcher = dispatcher
        self.web = web
        self.metrics = metrics
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            guard case .idle = state else { return }
            state = route(head)
            if case .answering(let head, .text(status: 413, headers: _, body: _)) = state {
                // Too large to read: answer now and close rather than swallow the body.
                respond(
                    context: context, head: head, status: 413, headers: [:],
                    body: ByteBuffer(string: "<h1>413: Payload Too Large</h1>"), close: true)
                state = .closing
            }
        case .body(let part):
            switch state {
            case .collecting(let head, var body):
                if body.readableBytes + part.readableBytes > gate.configuration.maximumBodyBytes {
                    respond(
                        context: context, head: head, status: 413, headers: [:],
                        body: ByteBuffer(string: "<h1>413: Payload Too Large</h1>"), close: true, closeNow: false)
                    state = .draining(0)
                    return
                }
                // Out of the state first, so the buffer is uniquely referenced and grows in place.
                state = .waiting
                var part = part
                body.writeBuffer(&part)
                state = .collecting(head, body)
            case .answering(let head, _):
                // A refused request's body is dropped, up to the body limit; beyond it the connection closes.
                discarded += part.readableBytes
                if discarded > gate.configuration.maximumBodyBytes {
                    respond(
                        context: context, head: head, status: 413, headers: [:],
                        body: ByteBuffer(string: "<h1>413: Payload Too Large</h1>"), close: true)
                }
            case .draining(let dropped):
                if dropped + part.readableBytes > 4 * gate.configuration.maximumBodyBytes {
                    state = .closing
                    context.close(promise: nil)
                } else {
                    state = .draining(dropped + part.readableBytes)
                }
            default:
                break
            }
        case .end:
            discarded = 0
            switch state {
            case .draining:
                state = .closing
                context.close(promise: nil)
            case .collecting(let head, let body):
                state = .waiting
                dispatch(context: context, head: head, body: body)
            case .answering(let head, let answer):
                state = .waiting
                deliver(context: context, head: head, answer: answer)
            default:
                break
            }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            switch state {
            case .idle, .draining, .closing: context.close(promise: nil)
            default: break
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// A request that is not HTTP (NIO's error handler has answered 400) or a failed socket: close.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        state = .closing
        context.close(promise: nil)
    }

    private func route(_ head: HTTPRequestHead) -> State {
        let path = String(head.uri.prefix { $0 != "?" && $0 != "#" })
        if path == "/transmission/rpc" || path == "/transmission/rpc/" {
            guard head.method == .POST || head.method == .GET else {
                return .answering(head, .text(status: 405, headers: ["Allow": "POST"], body: "405: Method Not Allowed"))
            }
            let length = head.headers.first(name: "content-length").map { Int($0) ?? Int.max }
            switch gate.admit(
                host: head.headers.first(name: "host"), authorization: head.headers.first(name: "authorization"),
                sessionIDHeader: head.headers.first(name: RPCGate.sessionHeader), contentLength: length)
            {
            case .pass:
                return .collecting(head, ByteBuffer())
            case .refuse(let status, let headers, let body):
                return .answering(head, .text(status: status, headers: headers, body: body))
            }
        }
        guard head.method == .GET || head.method == .HEAD else {
            return .answering(head, .text(status: 405, headers: ["Allow": "GET"], body: "405: Method Not Allowed"))
        }
        if path == "/metrics", let metrics {
            // As open as the RPC (authentication, Host), without the session id a scraper does not keep.
            if case .refuse(let status, let headers, let body) = gate.admit(
                host: head.headers.first(name: "host"), authorization: head.headers.first(name: "authorization"),
                sessionIDHeader: gate.sessionID, contentLength: 0)
            {
                return .answering(head, .text(status: status, headers: headers, body: body))
            }
            return .answering(
                head,
                .text(
                    status: 200, headers: ["Content-Type": "text/plain; version=0.0.4; charset=utf-8"],
                    body: head.method == .HEAD ? "" : metrics.exposition()))
        }
        guard let web else { return .answering(head, .text(status: 404, headers: [:], body: "404: Not Found")) }
        if path == "/" || path == "/transmission" || path == "/transmission/" || path == "/transmission/web" {
            return .answering(head, .text(status: 301, headers: ["Location": WebFolder.prefix], body: ""))
        }
        // The web interface is as open as the RPC: same authentication and Host checks.
        if case .refuse(let status, let headers, let body) = gate.admit(
            host: head.headers.first(name: "host"), authorization: head.headers.first(name: "authorization"),
            sessionIDHeader: gate.sessionID, contentLength: 0)
        {
            return .answering(head, .text(status: status, headers: headers, body: body))
        }
        switch web.resolve(path) {
        case .success(let file): return .answering(head, .file(file))
        case .failure(.forbidden): return .answering(head, .text(status: 403, headers: [:], body: "403: Forbidden"))
        case .failure(.notFound): return .answering(head, .text(status: 404, headers: [:], body: "404: Not Found"))
        }
    }

    private func dispatch(context: ChannelHandlerContext, head: HTTPRequestHead, body: ByteBuffer) {
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let dispatcher = self.dispatcher
        Task {
            let response = await dispatcher.handle(body: body.readableBytesView)
            let json = response.body
            bound.eventLoop.execute {
                handler.value.deliver(
                    context: bound.value, head: head,
                    answer: json.map { .rpc(ByteBuffer(bytes: $0.serialized)) }
                        ?? .text(status: 204, headers: [:], body: ""))
            }
        }
    }

    private func deliver(context: ChannelHandlerContext, head: HTTPRequestHead, answer: Answer) {
        switch answer {
        case .text(let status, let headers, let body):
            var headers = headers
            if headers["Content-Type"] == nil { headers["Content-Type"] = "text/html; charset=ISO-8859-1" }
            respond(context: context, head: head, status: status, headers: headers, body: ByteBuffer(string: body))
        case .rpc(let body):
            respond(
                context: context, head: head, status: 200, headers: ["Content-Type": "application/json; charset=UTF-8"],
                body: body)
        case .file(let path):
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
            Task {
                let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
                let data = size <= WebFolder.maximumFileBytes ? FileManager.default.contents(atPath: path) : nil
                bound.eventLoop.execute {
                    if let data {
                        handler.value.respond(
                            context: bound.value, head: head, status: 200,
                            headers: ["Content-Type": WebFolder.contentType(of: path)],
                            body: ByteBuffer(bytes: head.method == .HEAD ? Data() : data))
                    } else {
                        handler.value.respond(
                            context: bound.value, head: head, status: 404, headers: [:],
                            body: ByteBuffer(string: "404: Not Found"))
                    }
                }
            }
        }
    }

    private func respond(
        context: ChannelHandlerContext, head: HTTPRequestHead, status: Int, headers: [String: String],
        body: ByteBuffer, close: Bool = false, closeNow: Bool = true
    ) {
        var fields = HTTPHeaders()
        fields.add(name: "Server", value: "nbt-daemon/\(BTDaemonVersion.current)")
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) { fields.add(name: name, value: value) }
        fields.add(name: "Content-Length", value: String(body.readableBytes))
        let keepAlive = head.isKeepAlive && !close
        fields.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        let responseHead = HTTPResponseHead(
            version: head.version, status: HTTPResponseStatus(statusCode: status), headers: fields)
        context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        let done = context.writeAndFlushPromise(wrapOutboundOut(.end(nil)))
        if keepAlive {
            if case .closing = state {} else { state = .idle }
        } else {
            state = .closing
            let channel = context.channel
            // Without `closeNow` the rest of the request is still read (and dropped): only our side is shut,
            // so the client sees the end of the answer instead of a reset.
            done.whenComplete { _ in channel.close(mode: closeNow ? .all : .output, promise: nil) }
        }
    }
}

extension ChannelHandlerContext {
    fileprivate func writeAndFlushPromise(_ data: NIOAny) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        writeAndFlush(data, promise: promise)
        return promise.futureResult
    }
}
