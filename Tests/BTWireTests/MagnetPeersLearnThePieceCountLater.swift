import BTMetainfo
import NIOCore
import Testing

@testable import BTWire

/// A connection made for a magnet link before its metadata is known (``PeerConfiguration/awaitsMetadata``)
/// sends no availability and keeps the peer's unchecked; once ``PeerStateMachine/metadataArrived(_:now:)``
/// gives the piece count it announces ours, reports the peer's, and transfers like any connection. A peer
/// whose earlier availability does not fit the count is disconnected.
@Suite struct MagnetPeersLearnThePieceCountLater {
    static let pieceLength = 16_384

    /// The configuration of a magnet whose metadata is unknown, for the same info-hash as `real`.
    static func awaiting(_ real: PeerConfiguration) -> PeerConfiguration {
        var configuration = PeerConfiguration(
            infoHash: real.infoHash, localPeerID: real.localPeerID, pieceLength: pieceLength, totalLength: 0,
            localPieces: Bitfield(count: 0), localReserved: real.localReserved)
        configuration.awaitsMetadata = true
        return configuration
    }

    /// A (peer id 1) fetching the metadata of a torrent of `size` bytes, and B (peer id 2) with every piece
    /// (`bHasAll`) or none; not connected yet. Also returns A's configuration once the metadata is known.
    static func magnetPair(size: Int, seed: UInt64, bHasAll: Bool, fast: Bool = true) -> (
        pair: PeerPair, real: PeerConfiguration
    ) {
        let content = PeerPair.content(size: size, seed: seed)
        let real = PeerPair.configuration(
            content: content, pieceLength: pieceLength, have: false, fast: fast, peerIDByte: 1)
        let b = PeerPair.configuration(
            content: content, pieceLength: pieceLength, have: bHasAll, fast: fast, peerIDByte: 2)
        return (PeerPair(a: awaiting(real), b: b, content: content), real)
    }

    static func sent(_ actions: [PeerAction]) -> [PeerMessage] {
        actions.compactMap { if case .send(let message) = $0 { message } else { nil } }
    }

    @Test(arguments: [true, false])
    func availabilityWaitsForTheMetadataThenTheTransferCompletes(fast: Bool) {
        var (pair, real) = Self.magnetPair(size: 5 * Self.pieceLength + 1_000, seed: 7, bHasAll: true, fast: fast)
        pair.connect()
        #expect(pair.a.phase == .active && pair.b.phase == .active)
        // Nothing about our pieces went out, and the seed's bitfield is kept, not reported.
        let before = Self.sent(pair.actionsOfA)
        #expect(!before.contains { [.bitfield(ByteBuffer()), .haveNone, .haveAll].contains($0.withoutPayload) })
        #expect(!pair.actionsOfA.contains { if case .peerHas = $0 { true } else { false } })
        #expect(pair.a.peerPieces.count == 0)

        let actions = pair.a.metadataArrived(real, now: pair.now)
        pair.apply(actions, fromA: true)
        #expect(actions.contains(.peerHas(.pieces(Bitfield(count: 6, allSet: true)))))
        #expect(Self.sent(actions).contains(.interested))
        #expect(Self.sent(actions).contains(.haveNone) == fast)
        #expect(pair.a.peerPieces.isAllSet && pair.a.peerPieces.count == 6)
        pair.pump()
        pair.apply(pair.b.unchoke(now: pair.now), fromA: false)
        pair.pump()
        for _ in 0..<50 where pair.completedByA.count < 6 {
            pair.requestMissing()
            pair.pump()
        }
        #expect(pair.completedByA == Set(0..<6))
        // Once A has every piece both sides are seeds, the one reason to end.
        #expect(pair.disconnectOfA == .bothSeeds || pair.disconnectOfA == nil)
        #expect(pair.disconnectOfB == .bothSeeds || pair.disconnectOfB == .byRemote || pair.disconnectOfB == nil)
    }

    @Test func aBitfieldOfAnotherLengthClosesTheConnectionOnceTheCountIsKnown() {
        let content = PeerPair.content(size: 3 * Self.pieceLength, seed: 8)
        let seed = PeerPair.configuration(
            content: content, pieceLength: Self.pieceLength, have: true, fast: false, peerIDByte: 2)
        // The metadata says 9 pieces; the peer's bitfield (3 pieces, one byte) cannot be of this torrent.
        let bigger = PeerPair.configuration(
            content: PeerPair.content(size: 9 * Self.pieceLength, seed: 9), pieceLength: Self.pieceLength,
            have: false, fast: false, peerIDByte: 1)
        var pair = PeerPair(a: Self.awaiting(bigger), b: seed, content: content)
        pair.connect()
        #expect(pair.a.phase == .active)
        pair.apply(pair.a.metadataArrived(bigger, now: pair.now), fromA: true)
        #expect(pair.disconnectOfA == .malformedPacket)
    }

    @Test func aHaveBeyondTheLastPieceClosesTheConnectionOnceTheCountIsKnown() {
        var (pair, real) = Self.magnetPair(size: 3 * Self.pieceLength, seed: 10, bHasAll: false)
        pair.connect()
        // Before the count is known any index is kept; 40 is past the 3 pieces.
        pair.apply(pair.a.receive(message: .have(piece: 40), now: pair.now), fromA: true)
        #expect(pair.a.phase == .active)
        pair.apply(pair.a.metadataArrived(real, now: pair.now), fromA: true)
        #expect(pair.disconnectOfA == .malformedPacket)
    }

    /// While the count is unknown the peer's availability is only kept, but it is budgeted as in the active
    /// phase: repeated `have`s, bitfields and `have all`/`have none` beyond the limits end the connection, as
    /// they would once the metadata is there.
    @Test(arguments: ["have", "bitfield", "haveAll"])
    func availabilityFloodsWhileTheMetadataIsPendingAreCutOff(kind: String) {
        var (pair, _) = Self.magnetPair(size: 3 * Self.pieceLength, seed: 12, bHasAll: false)
        pair.connect()
        let limits = pair.a.configuration.inputLimits
        let bound = max(limits.maximumRedundantHaves, limits.maximumAvailabilityMessages)
        let message: PeerMessage =
            switch kind {
            case "have": .have(piece: 1)
            case "bitfield": .bitfield(ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0xFF]))
            default: .haveAll
            }
        var sent = 0
        while pair.disconnectOfA == nil && sent <= bound + 2 {
            pair.apply(pair.a.receive(message: message, now: pair.now), fromA: true)
            sent += 1
        }
        #expect(pair.disconnectOfA == .protocolViolation, "\(sent) \(kind) messages in one window")
        #expect(sent > 1 && sent <= bound + 2)  // the first `have` or bitfield is free
    }

    @Test func aConnectionStillDiallingTakesTheCountAndGreetsWithIt() {
        var (pair, real) = Self.magnetPair(size: 2 * Self.pieceLength, seed: 11, bHasAll: true)
        #expect(pair.a.metadataArrived(real, now: pair.now).isEmpty)
        pair.connect()
        #expect(Self.sent(pair.actionsOfA).contains(.haveNone))
        #expect(pair.actionsOfA.contains(.peerHas(.all)))
    }
}

extension PeerMessage {
    /// The message with an empty payload, to compare kinds.
    fileprivate var withoutPayload: PeerMessage {
        if case .bitfield = self { return .bitfield(ByteBuffer()) }
        return self
    }
}
