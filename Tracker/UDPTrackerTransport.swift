import NIOCore
import NIOPosix

/// Drives one ``UDPTrackerExchange`` over a connected datagram channel: the thin I/O half of BEP 15.
/// The state machine lives in the handler, on the channel's event loop; timers are the deadlines it returns.
enum UDPTrackerTransport {
    typealias Outcome = (result: Result<UDPTrackerAnswer, TrackerError>, connection: UDPTrackerConnection?)

    static func run(
        _ exchange: UDPTrackerExchange, tracker: String, remote: SocketAddress, local: SocketAddress?,
        group: any EventLoopGroup,
        onEvent: @escaping @Sendable (TrackerEvent) -> Void
    ) async -> Outcome {
        let eventLoop = group.next()
        let promise = eventLoop.makePromise(of: Outcome.self)
        let bindHost = remote.protocol == .inet6 ? "::" : "0.0.0.0"
        let channel: any Channel
        do {
            let bootstrap = DatagramBootstrap(group: eventLoop)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let handler = ExchangeHandler(
                            exchange: exchange, tracker: tracker, remote: remote, promise: promise, onEvent: onEvent)
                        try channel.pipeline.syncOperations.addHandler(handler)
                    }
                }
            // Bound to the client's address when it has one: the tracker lists the source address it sees.
            let bound = local.map { bootstrap.bind(to: $0) } ?? bootstrap.bind(host: bindHost, port: 0)
            channel = try await bound.flatMap { channel in
                channel.connect(to: remote).map { channel }
            }.get()
        } catch {
            promise.succeed((.failure(TrackerError(.connectionFailed, "UDP socket: \(error)")), nil))
            return (.failure(TrackerError(.connectionFailed, "UDP socket: \(error)")), nil)
        }
        // The exchange starts once the channel is connected: from here on only the tracker's datagrams arrive.
        channel.pipeline.fireUserInboundEventTriggered(ExchangeHandler.Start())
        let outcome = await withTaskCancellationHandler {
            (try? await promise.futureResult.get())
                ?? (.failure(TrackerError(.cancelled, "UDP exchange abandoned")), nil)
        } onCancel: {
            channel.close(promise: nil)
        }
        try? await channel.close()
        return outcome
    }

    final class ExchangeHandler: ChannelInboundHandler {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        typealias OutboundOut = AddressedEnvelope<ByteBuffer>

        struct Start {}

        private var exchange: UDPTrackerExchange
        private let remote: SocketAddress
        private let promise: EventLoopPromise<Outcome>
        private let onEvent: @Sendable (TrackerEvent) -> Void
        private let tracker: String
        private var timer: Scheduled<Void>?
        private var finished = false

        init(
            exchange: UDPTrackerExchange, tracker: String, remote: SocketAddress, promise: EventLoopPromise<Outcome>,
            onEvent: @escaping @Sendable (TrackerEvent) -> Void
        ) {
            self.exchange = exchange
            self.remote = remote
            self.promise = promise
            self.onEvent = onEvent
            self.tracker = tracker
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            guard event is Start else { return context.fireUserInboundEventTriggered(event) }
            perform(exchange.start(now: .now()), context: context)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = unwrapInboundIn(data)
            let bytes = Array(envelope.data.readableBytesView)
            onEvent(.read(tracker: tracker, bytes: bytes.count))
            perform(exchange.receive(bytes, ipv6: remote.protocol == .inet6, now: .now()), context: context)
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            // On a connected UDP socket an ICMP "port unreachable" comes back as ECONNREFUSED.
            finish((.failure(TrackerError(.connectionFailed, HostResolver.describe(error))), nil), context: context)
        }

        func channelInactive(context: ChannelHandlerContext) {
            finish((.failure(TrackerError(.cancelled, "UDP channel closed")), nil), context: context)
            context.fireChannelInactive()
        }

        private func perform(_ action: UDPTrackerExchange.Action, context: ChannelHandlerContext) {
            guard !finished else { return }
            switch action {
            case .send(let bytes, let deadline):
                onEvent(.write(tracker: tracker, bytes: bytes.count))
                let envelope = AddressedEnvelope(
                    remoteAddress: remote, data: context.channel.allocator.buffer(bytes: bytes))
                context.writeAndFlush(wrapOutboundOut(envelope), promise: nil)
                timer?.cancel()
                timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) {
                    self.perform(self.exchange.timedOut(now: .now()), context: context)
                }
            case .keepWaiting:
                break
            case .finish(let result, let connection):
                finish((result, connection), context: context)
            }
        }

        private func finish(_ outcome: Outcome, context: ChannelHandlerContext) {
            guard !finished else { return }
            finished = true
            timer?.cancel()
            promise.succeed(outcome)
            context.close(promise: nil)
        }
    }
}
