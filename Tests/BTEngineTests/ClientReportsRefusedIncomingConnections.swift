import BTMetainfo
import Foundation
import NIOCore
import NIOPosix
import Testing

@testable import BTEngine

/// An incoming connection that never names a torrent is closed with a `peer_disconnect` and a reason: a
/// malformed handshake, no handshake within ``ClientConfiguration/incomingHandshakeTimeout``, or one
/// connection too many waiting for its handshake.
@Suite(.serialized) struct ClientReportsRefusedIncomingConnections {
    /// Opens a TCP connection to `port`, sends `bytes` (if any) and returns the channel.
    static func open(_ port: Int, sending bytes: [UInt8], group: any EventLoopGroup) async throws -> any Channel {
        let channel = try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: port).get()
        if !bytes.isEmpty {
            var buffer = channel.allocator.buffer(capacity: bytes.count)
            buffer.writeBytes(bytes)
            try await channel.writeAndFlush(buffer).get()
        }
        return channel
    }

    static func client(_ change: (inout ClientConfiguration) -> Void = { _ in }) async throws -> (
        Client, Recorder<String>
    ) {
        var configuration = ClientConfiguration(host: "127.0.0.1")
        configuration.usesTrackers = false
        change(&configuration)
        let client = try await Client(configuration: configuration)
        let reasons = Recorder<String>()
        client.events.on(.peerDisconnect) { event in
            if case .peerDisconnect(let peer, let reason) = event, peer.isIncoming { reasons.append(reason.name) }
        }
        return (client, reasons)
    }

    @Test func aMalformedHandshakeIsReported() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let (client, reasons) = try await Self.client()
        let channel = try await Self.open(client.port, sending: Array("GET / HTTP/1.0\r\n\r\n".utf8), group: group)
        #expect(await ClientFixtures.eventually { reasons.values == ["malformedHandshake"] })
        try? await channel.close().get()
        await client.shutdown()
        try await group.shutdownGracefully()
    }

    @Test func aSilentPeerIsClosedAfterTheHandshakeTimeout() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let (client, reasons) = try await Self.client { $0.incomingHandshakeTimeout = .milliseconds(500) }
        let channel = try await Self.open(client.port, sending: [], group: group)
        #expect(await ClientFixtures.eventually { reasons.values == ["handshakeTimeout"] })
        #expect(await ClientFixtures.eventually { !channel.isActive })
        await client.shutdown()
        try await group.shutdownGracefully()
    }

    @Test func connectionsWaitingForTheirHandshakeAreBounded() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let (client, reasons) = try await Self.client { $0.maximumIncomingHandshakes = 2 }
        var channels: [any Channel] = []
        for _ in 0..<3 { channels.append(try await Self.open(client.port, sending: [], group: group)) }
        #expect(await ClientFixtures.eventually { reasons.values == ["tooMany"] })
        #expect(try await client.onLoop { core in core.incoming.incomingHandshakes } == 2)
        // Closing the waiting ones frees their places.
        for channel in channels { try? await channel.close().get() }
        #expect(
            await ClientFixtures.eventually {
                (try? await client.onLoop { core in core.incoming.incomingHandshakes }) == 0
            })
        await client.shutdown()
        try await group.shutdownGracefully()
    }
}
