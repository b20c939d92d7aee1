import BTWire
import Foundation
import NIOCore
import NIOPosix
import Testing

@testable import BTEngine

#if canImport(Glibc)
    import Glibc
#endif

/// ``FallbackTransport`` listens on TCP and uTP on one port number, dials uTP first and falls back to TCP when
/// nobody answers over uTP within its attempt time; `TransportKind(of:)` tells the two kinds of channel apart.
@Suite(.serialized) struct FallbackTransportListensOnBothAndFallsBack {
    @Test(.timeLimit(.minutes(1)))
    func listensOnTCPAndUDPOnTheSamePort() async throws {
        // Binding only: no datagram is sent, so the UDP socket may live outside a namespace.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let accept: @Sendable (any Channel) -> EventLoopFuture<Void> = { $0.eventLoop.makeSucceededVoidFuture() }
        let listener = try await FallbackTransport().listen(
            host: "127.0.0.1", port: 0, group: group, initializer: accept)
        // TCP answers on the port...
        let tcp = try await TCPTransport().connect(
            host: "127.0.0.1", port: listener.port, loop: group.next(), timeout: .seconds(5), initializer: accept
        ).get()
        #expect(TransportKind(of: tcp) == .tcp)
        try await tcp.close()
        // ...and the UDP port is taken (by the uTP socket).
        let probe = socket(AF_INET, CInt(SOCK_DGRAM.rawValue), 0)
        defer { close(probe) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(listener.port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(probe, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        #expect(bound == -1 && errno == EADDRINUSE)
        listener.close()
        try await group.shutdownGracefully()
    }

    @Test(.timeLimit(.minutes(1)))
    func fallbackDialsUTPFirstAndTCPWhenUTPIsNotAnswered() async throws {
        guard let pool = ClientTransfersOverUTP.namespacedSockets(3) else { return }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let utp = UTPTransport(socketFactory: { _, _ in try pool.next() })
        let fallback = FallbackTransport(policy: .both, utp: utp, utpAttemptTimeout: .milliseconds(500))
        let accept: @Sendable (any Channel) -> EventLoopFuture<Void> = { $0.eventLoop.makeSucceededVoidFuture() }
        // A uTP listener in the namespace: the dial goes over uTP.
        let utpListener = try await UTPTransport(socketFactory: { _, _ in try pool.next() })
            .listen(host: "127.0.0.1", port: 0, group: loop, initializer: accept)
        let overUTP = try await fallback.connect(
            host: "127.0.0.1", port: utpListener.port, loop: loop, timeout: .seconds(5), initializer: accept
        ).get()
        #expect(TransportKind(of: overUTP) == .utp)
        #expect(overUTP.isActive)
        try await overUTP.close()
        // A TCP listener (nothing answers uTP on its port inside the namespace): TCP after the uTP attempt.
        let tcpListener = try await TCPTransport().listen(
            host: "127.0.0.1", port: 0, group: loop, initializer: accept)
        let started = NIODeadline.now()
        let overTCP = try await fallback.connect(
            host: "127.0.0.1", port: tcpListener.port, loop: loop, timeout: .seconds(5), initializer: accept
        ).get()
        let waited = NIODeadline.now() - started
        #expect(TransportKind(of: overTCP) == .tcp)
        #expect(waited >= .milliseconds(450) && waited < .seconds(3), "\(waited)")
        try await overTCP.close()
        tcpListener.close()
        utpListener.close()
        try await group.shutdownGracefully()
    }
}
