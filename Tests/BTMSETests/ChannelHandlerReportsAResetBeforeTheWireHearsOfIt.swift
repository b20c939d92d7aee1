import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import BTMSE

/// A peer that does not speak MSE often answers our Ya with a reset (ctorrent does): the handler must report
/// its failure (`closedDuringHandshake`) before the error reaches the wire above it, which reports a reason
/// of its own from the error. The engine takes the MSE failure as the disconnect reason (and redials in
/// plaintext under `preferred`) only when it heard of it first.
@Suite(.serialized) struct ChannelHandlerReportsAResetBeforeTheWireHearsOfIt {
    /// What happened, in order: the handler's result and what reached the handler above it.
    final class Order: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let events = Mutex<[String]>([])
        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            events.withLock { $0.append("wire: error") }
        }
        func channelInactive(context: ChannelHandlerContext) {
            events.withLock { $0.append("wire: inactive") }
        }
        func report(_ result: Result<MSEChannelOutcome, MSEError>) {
            if case .failure(let error) = result { events.withLock { $0.append("mse: \(error.code)") } }
        }
    }

    /// A plaintext-only peer: resets the connection (SO_LINGER 0, then close) when the first bytes arrive.
    final class Resetter: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let channel = context.channel
            guard let socket = channel as? any SocketOptionProvider else {
                Issue.record("not a socket: \(channel)")
                return
            }
            socket.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
        }
    }

    @Test func aResetAnswerToYaFailsTheHandshakeBeforeTheWireHearsOfTheError() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        let pair = try await LoopbackPair.start(group: group) { _ in [Resetter()] }
        let order = Order()
        let client = try await pair.connect {
            [
                MSEChannelHandler.initiator(
                    skey: [UInt8](repeating: 0x5c, count: 20), policy: .preferred, onResult: order.report),
                order,
            ]
        }
        let settled = await eventually(20) { order.events.withLock { $0.contains("wire: inactive") } }
        #expect(settled)
        let events = order.events.withLock { $0 }
        // The reset: the MSE failure first, then the wire hears of the error (or only of the close).
        #expect(events.first == "mse: \(MSEError.Code.closedDuringHandshake)", "\(events)")
        #expect(events.filter { $0.hasPrefix("mse:") }.count == 1, "\(events)")
        try? await client.close()
        try await pair.shutdown()
    }
}
