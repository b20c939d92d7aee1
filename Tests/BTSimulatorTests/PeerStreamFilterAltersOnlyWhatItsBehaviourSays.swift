import NIOCore
import Testing

@testable import BTSimulator

/// The wire filter frames the stream however it is split: honest streams pass unchanged (blocks counted),
/// liars' blocks are altered and nothing else, free-riders' unchoke and allowed-fast messages vanish.
@Suite struct PeerStreamFilterAltersOnlyWhatItsBehaviourSays {
    /// A handshake, an unchoke, a have, a piece of 40 bytes, an allowed fast, a keep-alive.
    static let stream: [UInt8] = {
        var bytes: [UInt8] = [19] + Array("BitTorrent protocol".utf8) + Array(repeating: 0, count: 48)
        bytes += [0, 0, 0, 1, 1]  // unchoke
        bytes += [0, 0, 0, 5, 4, 0, 0, 0, 3]  // have 3
        bytes += [0, 0, 0, 49, 7, 0, 0, 0, 2, 0, 0, 0, 0] + (0..<40).map { UInt8($0) }  // piece 2, offset 0
        bytes += [0, 0, 0, 5, 17, 0, 0, 0, 9]  // allowed fast 9
        bytes += [0, 0, 0, 0]  // keep-alive
        return bytes
    }()

    static func run(_ behaviour: PeerBehaviour, splits seed: UInt64) -> (bytes: [UInt8], blocks: Int) {
        var filter = PeerStreamFilter(behaviour: behaviour)
        var random = SimulationRandom(seed: seed)
        var output: [UInt8] = []
        var blocks = 0
        var rest = stream[...]
        while !rest.isEmpty {
            let take = Int(random.next(upperBound: UInt64(min(rest.count, 17)))) + 1
            let (out, count) = filter.filter(ByteBuffer(bytes: rest.prefix(take)))
            output += out.readableBytesView
            blocks += count
            rest = rest.dropFirst(take)
        }
        return (output, blocks)
    }

    @Test(arguments: [1, 2, 3, 4, 5] as [UInt64])
    func honestPassesUnchangedAndCountsBlocks(seed: UInt64) {
        let (bytes, blocks) = Self.run(.honest, splits: seed)
        #expect(bytes == Self.stream)
        #expect(blocks == 40)
    }

    @Test(arguments: [1, 2, 3, 4, 5] as [UInt64])
    func liarAltersEveryBlockByteAndNothingElse(seed: UInt64) {
        let (bytes, blocks) = Self.run(.liar, splits: seed)
        #expect(bytes.count == Self.stream.count)
        #expect(blocks == 40)
        let blockStart = 68 + 5 + 9 + 13
        let changed = zip(bytes, Self.stream).enumerated().filter { $0.element.0 != $0.element.1 }.map(\.offset)
        #expect(changed == Array(blockStart..<(blockStart + 40)))
    }

    @Test(arguments: [1, 2, 3, 4, 5] as [UInt64])
    func freeRiderDropsUnchokeAndAllowedFastOnly(seed: UInt64) {
        let (bytes, _) = Self.run(.freeRider, splits: seed)
        var expected = Array(Self.stream[0..<68])
        expected += [0, 0, 0, 5, 4, 0, 0, 0, 3]
        expected += [0, 0, 0, 49, 7, 0, 0, 0, 2, 0, 0, 0, 0] + (0..<40).map { UInt8($0) }
        expected += [0, 0, 0, 0]
        #expect(bytes == expected)
    }
}
