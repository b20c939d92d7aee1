import BTMetainfo
import Foundation
import NIOCore
import NIOPosix
import Testing

@testable import BTEngine

/// A client bound to an address dials peers from it, so that the peer (and a tracker, which lists the
/// source address of an announce) sees it there, not at the system's default 127.0.0.1.
@Suite(.serialized) struct ClientDialsFromItsBoundAddress {
    /// Records where each accepted connection came from.
    private final class Accepted: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let sources = Recorder<String>()
        func channelActive(context: ChannelHandlerContext) {
            sources.append(context.channel.remoteAddress?.ipAddress ?? "?")
            context.fireChannelActive()
        }
    }

    @Test func dialsLeaveFromTheBoundAddress() async throws {
        let folder = try ClientFixtures.temporaryFolder("bound")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let torrent = try ClientFixtures.makeTorrent(in: folder)
        let accepted = Accepted()
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(accepted) }
            }
            .bind(host: "127.0.0.52", port: 0).get()
        let client = try await Client(configuration: ClientConfiguration(host: "127.0.4.78", ports: [0]))
        let handle = try await client.addTorrent(torrent, downloadDirectory: folder)
        try await client.connect(host: "127.0.0.52", port: listener.localAddress!.port!, for: handle)
        let start = ContinuousClock.now
        while accepted.sources.values.isEmpty, ContinuousClock.now - start < .seconds(10) {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(accepted.sources.values.first == "127.0.4.78")
        await client.shutdown()
        try await listener.close()
    }

    @Test func onlyASpecificAddressOfTheSameFamilyIsBound() {
        #expect(TCPTransport.bindAddress("127.0.4.78", dialling: "127.0.0.1")?.ipAddress == "127.0.4.78")
        #expect(TCPTransport.bindAddress("127.0.4.78", dialling: "peer.example") != nil)
        #expect(TCPTransport.bindAddress("0.0.0.0", dialling: "127.0.0.1") == nil)
        #expect(TCPTransport.bindAddress("::", dialling: "::1") == nil)
        #expect(TCPTransport.bindAddress("127.0.4.78", dialling: "::1") == nil)
        #expect(TCPTransport.bindAddress(nil, dialling: "127.0.0.1") == nil)
    }
}
