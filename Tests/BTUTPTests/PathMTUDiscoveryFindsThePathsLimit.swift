import NIOCore
import Testing

@testable import BTUTP

/// Path MTU discovery (``PathMTUSearch``) over the simulated link: the connection finds the largest datagram a
/// path carries by a binary search with padded probes, a lost probe lowers the ceiling without counting as
/// congestion, and it is resent at the floor's size, so the stream arrives whole.
struct PathMTUDiscoveryFindsThePathsLimit {
    /// A configuration searching from libtorrent's floor (548 bytes) up to an Ethernet ceiling (1,472 bytes),
    /// with windows large enough that the transfer never leaves slow start by filling them.
    static func searching(floor: Int = 548, ceiling: Int = 1472) -> UTPConfiguration {
        var configuration = UTPConfiguration()
        configuration.minimumDatagramSize = floor
        configuration.maximumDatagramSize = ceiling
        configuration.sendBufferSize = 16 << 20
        configuration.receiveBufferSize = 16 << 20
        return configuration
    }

    @Test(arguments: [1337, 600, 1471, 1000])
    func aPathThatDropsDatagramsAboveNBytesIsFoundToCarryN(limit: Int) {
        var pair = UTPPair(configuration: Self.searching())
        var dropped = 0
        pair.dropRule = { packet, _ in
            guard packet.encodedSize > limit else { return false }
            dropped += 1
            return true
        }
        let content = UTPPair.randomBytes(4 << 20, seed: 7)
        pair.pendingFromA = content
        pair.closeWhenDone = true
        #expect(pair.run(for: .seconds(120)) { $0.bothClosed })
        #expect(pair.receivedByB == content)
        #expect(pair.a.pathMTU.floor == limit)
        #expect(pair.a.pathMTU.isSettled)
        #expect(pair.a.pathMTU.probesLost == dropped, "only probes exceed the path")
        #expect(dropped > 0)
        // Full data packets sent after the search are exactly the path's limit.
        let late = pair.packetsFromA.filter { $0.type == .data }.suffix(200).map(\.encodedSize)
        #expect(late.max() == limit)
        // Lost probes are not congestion: no window cut (the path has no bottleneck, so only a loss would end
        // slow start) and no timeout.
        #expect(pair.a.congestion.inSlowStart)
        #expect(pair.a.statistics.timeouts == 0)
    }

    @Test func aPathAsLargeAsTheCeilingIsFoundInAFewProbes() {
        var pair = UTPPair(configuration: Self.searching())
        let content = UTPPair.randomBytes(2 << 20, seed: 8)
        pair.pendingFromA = content
        pair.closeWhenDone = true
        #expect(pair.run(for: .seconds(60)) { $0.bothClosed })
        #expect(pair.receivedByB == content)
        #expect(pair.a.pathMTU.floor == 1472)
        #expect(pair.a.pathMTU.probesLost == 0)
        // A binary search over 548...1472: ceil(log2(925)) probes.
        #expect(pair.a.pathMTU.probesSent == 10)
        let probes = pair.packetsFromA.filter { packet in
            packet.extensions.contains { $0.type == UTPPacket.paddingExtensionType }
        }
        #expect(probes.count == 10)
        #expect(probes.map(\.encodedSize) == [1010, 1241, 1357, 1415, 1444, 1458, 1465, 1469, 1471, 1472])
        // Each probe carries a floor-sized packet's payload (the floor before it), padded; the last, one byte
        // above the floor, one byte less (padding takes at least 2 bytes).
        let floors = [548, 1010, 1241, 1357, 1415, 1444, 1458, 1465, 1469]
        #expect(probes.map(\.payload.readableBytes) == floors.map { $0 - 20 } + [1472 - 20 - 2])
    }

    @Test func aProbeLostAloneIsResentAtTheFloorWithoutResettingTheWindow() {
        // One full packet: the first data packet is a probe of 1,010 bytes, the path drops it, nothing else is in
        // flight, so the retransmission timeout finds it.
        var pair = UTPPair(configuration: Self.searching())
        pair.dropRule = { packet, _ in packet.encodedSize > 1000 }
        let content = UTPPair.randomBytes(528, seed: 9)
        pair.pendingFromA = content
        #expect(pair.run(for: .seconds(10)) { $0.receivedByB.readableBytes == 528 })
        #expect(pair.receivedByB == content)
        #expect(pair.a.statistics.timeouts == 1)
        #expect(pair.a.pathMTU.probesLost == 1)
        #expect(pair.a.pathMTU.ceiling == 1009)
        #expect(pair.a.pathMTU.floor == 548)
        #expect(pair.a.congestion.window == 2 * 1452, "a lost probe does not drop the window to one packet")
        let resent = pair.packetsFromA.filter { $0.type == .data }
        #expect(resent.map(\.encodedSize) == [1010, 548])
    }

    @Test func aFloorAtTheCeilingSendsNoProbe() {
        var pair = UTPPair(configuration: Self.searching(floor: 1400, ceiling: 1400))
        let content = UTPPair.randomBytes(1 << 20, seed: 10)
        pair.pendingFromA = content
        pair.closeWhenDone = true
        #expect(pair.run(for: .seconds(60)) { $0.bothClosed })
        #expect(pair.receivedByB == content)
        #expect(pair.a.pathMTU.probesSent == 0)
        #expect(pair.packetsFromA.allSatisfy { $0.encodedSize <= 1400 && $0.extensions.isEmpty })
    }

    @Test(arguments: [2, 3, 257, 258, 300, 1799])
    func paddingTakesExactlyTheBytesAsked(bytes: Int) throws {
        let packet = UTPPacket(
            type: .data, connectionID: 1, sequenceNumber: 2, ackNumber: 3, extensions: UTPConnection.padding(bytes),
            payload: ByteBuffer(repeating: 1, count: 100))
        let encoded = try packet.encoded()
        #expect(encoded.readableBytes == UTPPacket.headerSize + 100 + bytes)
        let decoded = try UTPPacket(decoding: encoded)
        #expect(decoded.payload == ByteBuffer(repeating: 1, count: 100))
        #expect(decoded.extensions.count <= UTPPacket.maximumExtensionCount - 1)
    }
}
