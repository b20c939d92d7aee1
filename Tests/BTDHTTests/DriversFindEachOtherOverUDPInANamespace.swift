import BTBencode
import BTDHT
import Crypto
import Foundation
import NBTTestSupport
import NIOCore
import NIOPosix
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Eight of our nodes, each a ``DHTService`` on a real UDP socket at its own 127.0.0.x inside a loopback-only
/// network namespace, form a DHT: one announces an info-hash and the others find it (`get_peers`), scrape it
/// (BEP 33) and sample it (BEP 51); an immutable and a mutable item put by one are got by another (BEP 44);
/// a datagram that is not KRPC is passed on to the next handler; the state file round-trips.
@Suite(.serialized) struct DriversFindEachOtherOverUDPInANamespace {
    /// Records what the DHT handler passed on (what a uTP handler behind it would get).
    final class PassedOn: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        var datagrams: [[UInt8]] = []
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            datagrams.append(Array(unwrapInboundIn(data).data.readableBytesView))
        }
    }

    static let port: UInt16 = 6881
    static func address(_ index: Int) -> DHTEndpoint { DHTEndpoint(ip: .v4(0x7f00_0002 + UInt32(index)), port: port) }

    @Test(.timeLimit(.minutes(1))) func nodesAnnounceFindPutGetScrapeAndSample() async throws {
        let count = 8
        let sockets: [CInt]
        switch LoopbackNamespace.udpSockets(addresses: (0..<count).map { 0x7f00_0002 + UInt32($0) }, port: Self.port)
        {
        case .success(let (fds, _)): sockets = fds
        case .failure(let failure):
            Issue.record("no loopback namespace: \(failure)")
            return
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var services: [DHTService] = []
        for (index, fd) in sockets.enumerated() {
            let channel = try await DatagramBootstrap(group: group).withBoundSocket(fd).get()
            var configuration = DHTConfiguration(randomSeed: UInt64(index + 1))
            configuration.queryTimeout = .seconds(2)
            configuration.lookupTimeout = .seconds(10)
            services.append(try await DHTService.start(on: channel, configuration: configuration))
        }
        let recorder = PassedOn()
        try await services[1].channel.eventLoop.submit {
            try services[1].channel.pipeline.syncOperations.addHandler(recorder)
        }.get()

        // Everyone joins through node 0 (a known node, so it enters the tables); then node 0 joins through 1.
        for index in 1..<count {
            let joined = try await services[index].bootstrap(nodes: [Self.address(0)])
            #expect(joined.responses >= 1)
        }
        _ = try await services[0].bootstrap(nodes: [Self.address(1)])
        for index in 1..<count { _ = try await services[index].bootstrap() }
        for service in services { #expect(try await service.statistics().nodes >= 3) }

        // get_peers finds what another node announced.
        let infoHash = NodeID(bytes: Array(Insecure.SHA1.hash(data: Array("driver test".utf8))))!
        let announced = try await services[3].announce(infoHash, port: 7000)
        #expect(announced.announcedTo >= 3)
        let found = try await services[6].getPeers(infoHash)
        #expect(found.peers.contains(DHTEndpoint(ip: Self.address(3).ip, port: 7000)))
        #expect(!found.timedOut)
        // The same as a stream: the peer arrives before the lookup (and the stream) ends.
        var streamed: [DHTEndpoint] = []
        for try await batch in services[7].peers(of: infoHash) { streamed += batch }
        #expect(streamed == [DHTEndpoint(ip: Self.address(3).ip, port: 7000)])

        // BEP 33 and BEP 51 see the announced torrent.
        let scraped = try await services[5].scrape(infoHash)
        let scrape = try #require(scraped.scrape)
        #expect(scrape.estimatedDownloaders == 1)
        #expect(scrape.estimatedSeeds == 0)
        let sampled = try await services[4].sample(infoHash)
        #expect(sampled.samples.contains(infoHash))

        // BEP 44, immutable and mutable.
        let immutable = try DHTItem.immutable(.string("hello from a real socket"))
        let put = try await services[2].put(immutable)
        #expect(put.announcedTo >= 3)
        let got = try await services[7].get(immutable.target)
        #expect(got.item == immutable)
        let key = Curve25519.Signing.PrivateKey()
        let mutable = try DHTItem.mutable(.integer(42), sequence: 1, salt: Array("s".utf8), signingKey: key)
        _ = try await services[2].put(mutable)
        let gotMutable = try await services[5].get(mutable.target, salt: Array("s".utf8))
        #expect(gotMutable.item?.value == mutable.value)
        #expect(gotMutable.item?.signed?.sequence == 1)

        // A uTP-looking datagram sent to node 1 reaches the handler behind the DHT; KRPC never does.
        let utp = [UInt8]([0x41, 0, 0x12, 0x34] + [UInt8](repeating: 0, count: 16))
        try await services[2].channel.writeAndFlush(
            AddressedEnvelope(remoteAddress: try Self.address(1).socketAddress(), data: ByteBuffer(bytes: utp)))
        var passed: [[UInt8]] = []
        for _ in 0..<50 {
            passed = try await services[1].channel.eventLoop.submit { recorder.datagrams }.get()
            if !passed.isEmpty { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(passed == [utp])
        #expect(try await services[1].statistics().passedOn == 1)

        // The state file round-trips with the nodes learnt.
        let state = try await services[7].state()
        #expect(state.nodes.count >= 3)
        #expect(try DHTState(decoding: state.encoded()) == state)

        for service in services { try await service.close() }
        // A lookup on a closed channel fails with a typed error rather than hanging.
        await #expect(throws: DHTError.self) { _ = try await services[0].getPeers(infoHash) }
        try await group.shutdownGracefully()
    }
}
