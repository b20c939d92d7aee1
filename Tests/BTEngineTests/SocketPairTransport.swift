import Foundation
import NIOCore
import NIOPosix

@testable import BTEngine

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A ``PeerTransport`` that is not TCP: "ports" are numbers in a registry shared by the clients of one
/// test, and a connection is a Unix socket pair whose two ends are wrapped with `NIOPipeBootstrap`, one
/// on the dialler's loop and one on the listener's. No IP networking is involved.
final class SocketPairTransport: PeerTransport, @unchecked Sendable {
    private struct Acceptor {
        let group: any EventLoopGroup
        let initializer: @Sendable (any Channel) -> EventLoopFuture<Void>
    }

    private let lock = NSLock()
    private var acceptors: [Int: Acceptor] = [:]
    private var nextPort = 50_000
    private var connects = 0

    /// Connections made so far.
    var connectCount: Int { lock.withLock { connects } }

    func listen(
        host: String, port: Int, group: any EventLoopGroup,
        initializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
    ) async throws -> any PeerListener {
        lock.withLock {
            let chosen = port == 0 ? nextPort : port
            nextPort = max(nextPort, chosen) + 1
            acceptors[chosen] = Acceptor(group: group, initializer: initializer)
            return Listener(transport: self, port: chosen)
        }
    }

    func connect(
        host: String, port: Int, loop: any EventLoop, timeout: TimeAmount,
        initializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
    ) -> EventLoopFuture<any Channel> {
        let acceptor: Acceptor? = lock.withLock {
            connects += 1
            return acceptors[port]
        }
        guard let acceptor else { return loop.makeFailedFuture(ChannelError.connectTimeout(timeout)) }
        var fds: [Int32] = [0, 0]
        #if canImport(Glibc)
            let kind = Int32(SOCK_STREAM.rawValue)
        #else
            let kind = SOCK_STREAM
        #endif
        guard socketpair(AF_UNIX, kind, 0, &fds) == 0 else {
            return loop.makeFailedFuture(ChannelError.connectPending)
        }
        let accepted = NIOPipeBootstrap(group: acceptor.group).channelInitializer(acceptor.initializer)
            .takingOwnershipOfDescriptor(inputOutput: fds[1])
        accepted.whenFailure { _ in close(fds[1]) }
        return NIOPipeBootstrap(group: loop).channelInitializer(initializer)
            .takingOwnershipOfDescriptor(inputOutput: fds[0])
    }

    fileprivate func remove(_ port: Int) { lock.withLock { acceptors[port] = nil } }

    private struct Listener: PeerListener {
        let transport: SocketPairTransport
        let port: Int

        func close() { transport.remove(port) }
    }
}
