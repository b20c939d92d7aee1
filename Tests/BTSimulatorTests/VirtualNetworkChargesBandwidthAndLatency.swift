import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import Testing

@testable import BTSimulator

/// Bytes on the virtual network cost virtual time: a write arrives after the sender's uplink carried it,
/// both ends' latency passed and the receiver's downlink carried it; the write promise completes when the
/// uplink is done, and nobody listening is a refused connection.
@Suite struct VirtualNetworkChargesBandwidthAndLatency {
    final class Arrivals: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        var times: [(NIODeadline, Int)] = []
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            times.append((context.eventLoop.now, unwrapInboundIn(data).readableBytes))
        }
    }

    @Test func aWriteArrivesAfterUplinkLatencyAndDownlink() async throws {
        let loop = NIOAsyncTestingEventLoop()
        await loop.advanceTime(to: .uptimeNanoseconds(1_000_000_000_000))
        let network = VirtualNetwork(loop: loop, seed: 1)
        network.addNode(
            host: "10.0.0.1", index: 1,
            profile: NodeProfile(uploadBytesPerSecond: 100_000, downloadBytesPerSecond: nil, latency: .milliseconds(10))
        )
        network.addNode(
            host: "10.0.0.2", index: 2,
            profile: NodeProfile(uploadBytesPerSecond: nil, downloadBytesPerSecond: 50_000, latency: .milliseconds(5)))
        let arrivals = Arrivals()
        _ = try await network.listen(host: "10.0.0.2", port: 6_881, group: loop) { channel in
            channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(arrivals) }
        }
        let connecting = try await loop.submit {
            network.connect(
                host: "10.0.0.2", port: 6_881, from: "10.0.0.1", loop: loop, timeout: .seconds(1),
                initializer: { $0.eventLoop.makeSucceededVoidFuture() })
        }.get()
        await loop.advanceTime(by: .milliseconds(30))  // one round trip: 2 × (10 + 5) ms
        let channel = try await connecting.get()
        #expect(channel.remoteAddress?.ipAddress == "10.0.0.2")
        let start = loop.now
        let written = try await loop.submit { channel.writeAndFlush(ByteBuffer(repeating: 1, count: 10_000)) }.get()
        await loop.advanceTime(by: .milliseconds(99))
        #expect(loop.now - start < .milliseconds(100))
        var sent = false
        written.whenSuccess { sent = true }
        await loop.run()
        #expect(!sent, "10,000 bytes at 100 kB/s take 100 ms on the uplink")
        await loop.advanceTime(by: .milliseconds(2))
        #expect(sent)
        await loop.advanceTime(by: .milliseconds(500))
        let arrived = try #require(arrivals.times.first)
        #expect(arrived.1 == 10_000)
        // 100 ms uplink + 15 ms latency + 200 ms downlink (50 kB/s), within the sender's 4,096 ns stamp.
        let elapsed = arrived.0 - start
        #expect(elapsed >= .milliseconds(315) && elapsed < .milliseconds(315) + .microseconds(10))
        #expect(network.traffic(of: "10.0.0.2").bytesReceived == 10_000)
        await loop.shutdownGracefully()
    }

    /// The engine decides on an incoming connection by its peer's address when it accepts it (per-address
    /// limits, the accept rate, the IP filter), before anything is read: each end knows the other's address
    /// from the start, as an accepted socket does.
    @Test func anAcceptedChannelKnowsItsPeersAddressWhenItIsAccepted() async throws {
        let loop = NIOAsyncTestingEventLoop()
        let network = VirtualNetwork(loop: loop, seed: 1)
        network.addNode(host: "10.0.0.1", index: 1, profile: NodeProfile())
        network.addNode(host: "10.0.0.2", index: 2, profile: NodeProfile())
        let seenAtAccept = NIOLockedValueBox<String?>(nil)
        _ = try await network.listen(host: "10.0.0.2", port: 6_881, group: loop) { channel in
            seenAtAccept.withLockedValue { $0 = channel.remoteAddress?.ipAddress }
            return channel.eventLoop.makeSucceededVoidFuture()
        }
        let connecting = try await loop.submit {
            network.connect(
                host: "10.0.0.2", port: 6_881, from: "10.0.0.1", loop: loop, timeout: .seconds(1),
                initializer: { channel in
                    #expect(channel.remoteAddress?.ipAddress == "10.0.0.2")
                    return channel.eventLoop.makeSucceededVoidFuture()
                })
        }.get()
        await loop.advanceTime(by: .seconds(1))
        _ = try await connecting.get()
        #expect(seenAtAccept.withLockedValue { $0 } == "10.0.0.1")
        await loop.shutdownGracefully()
    }

    @Test func nobodyListeningIsRefused() async throws {
        let loop = NIOAsyncTestingEventLoop()
        let network = VirtualNetwork(loop: loop, seed: 1)
        network.addNode(host: "10.0.0.1", index: 1, profile: NodeProfile())
        let future = try await loop.submit {
            network.connect(
                host: "10.0.0.9", port: 6_881, from: "10.0.0.1", loop: loop, timeout: .seconds(1),
                initializer: { $0.eventLoop.makeSucceededVoidFuture() })
        }.get()
        await loop.advanceTime(by: .seconds(1))
        await #expect(throws: (any Error).self) { try await future.get() }
        await loop.shutdownGracefully()
    }
}
