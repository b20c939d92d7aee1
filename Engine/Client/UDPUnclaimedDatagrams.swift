import Foundation
import NIOCore

/// The last handler of the client's UDP socket: every datagram that reaches it was claimed by none of the
/// handlers before it (uTP's `BTUTP/UTPSocketHandler`, then the DHT's `BTDHT/DHTSocketHandler` when the DHT
/// shares the socket), so it is dropped here and counted by ``UDPDatagramKind``; nothing travels further
/// down the pipeline, where NIO would log it as unhandled.
///
/// Other users of the socket add their handlers before this one (``UTPTransport`` installs it when it binds).
/// The counts are readable from any thread (``counts``).
public final class UDPUnclaimedDatagrams: ChannelInboundHandler, Sendable {
    public typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let lock = NSLock()
    nonisolated(unsafe) private var dropped: [UDPDatagramKind: Int] = [:]

    /// A handler with every count at zero.
    public init() {}

    /// Datagrams dropped so far, by kind (kinds never seen are absent).
    public var counts: [UDPDatagramKind: Int] { lock.withLock { dropped } }

    /// Datagrams dropped so far, all kinds.
    public var total: Int { counts.values.reduce(0, +) }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let kind = UDPDatagramKind(classifying: unwrapInboundIn(data).data.readableBytesView)
        lock.withLock { dropped[kind, default: 0] += 1 }
    }
}
