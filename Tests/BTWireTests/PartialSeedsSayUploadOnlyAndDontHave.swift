import BTMetainfo
import NIOCore
import Testing

@testable import BTWire

/// BEP 21 `upload_only` both ways and libtorrent's `lt_donthave` as a receiver: a seed, or a partial seed that
/// has every piece it wants, says `upload_only` in its extension handshake (and says it anew when it becomes
/// one); two upload-only peers part (`bothSeeds`); a peer's `lt_donthave` takes the piece out of its
/// availability and our interest follows.
@Suite struct PartialSeedsSayUploadOnlyAndDontHave {
    static let content = PeerPair.content(size: 8 * 16384, seed: 21)

    /// A with `aHas` of the 8 pieces wanting `aWants` (nil: all), B with `bHas`.
    static func pair(aHas: Set<Int>, aWants: Set<Int>? = nil, bHas: Set<Int>) -> PeerPair {
        func bits(_ set: Set<Int>) -> Bitfield {
            var field = Bitfield(count: 8)
            for piece in set { field[piece] = true }
            return field
        }
        var a = PeerPair.configuration(content: content, pieceLength: 16384, have: false, fast: true, peerIDByte: 1)
        a.localPieces = bits(aHas)
        a.wantedPieces = aWants.map(bits)
        var b = PeerPair.configuration(content: content, pieceLength: 16384, have: false, fast: true, peerIDByte: 2)
        b.localPieces = bits(bHas)
        var pair = PeerPair(a: a, b: b, content: content)
        pair.connect()
        return pair
    }

    /// The `upload_only` of every extension handshake `actions` sent, in order.
    static func saidUploadOnly(_ actions: [PeerAction]) -> [Bool?] {
        actions.compactMap {
            guard case .send(.extended(let message)) = $0, message.id == 0 else { return nil }
            return .some(try? ExtensionHandshake(decoding: message.payload.readableBytesView).uploadOnly ?? false)
        }
    }

    static func closed(_ actions: [PeerAction]) -> DisconnectReason? {
        for case .disconnect(let reason, _) in actions { return reason }
        return nil
    }

    @Test func aPartialSeedSaysUploadOnlyAndAPeerThatWantsItsPiecesKeepsIt() {
        // A has pieces 0...3 and wants only those: a partial seed. B has nothing.
        let pair = Self.pair(aHas: [0, 1, 2, 3], aWants: [0, 1, 2, 3], bHas: [])
        #expect(Self.saidUploadOnly(pair.actionsOfA) == [true])
        #expect(Self.saidUploadOnly(pair.actionsOfB) == [false])
        #expect(pair.b.isUploadOnly && !pair.a.isUploadOnly)
        #expect(pair.a.phase == .active && pair.b.phase == .active)
    }

    @Test func twoUploadOnlyPeersPart() {
        // A partial seed meets a seed: neither wants anything of the other.
        let pair = Self.pair(aHas: [0, 1, 2, 3], aWants: [0, 1, 2, 3], bHas: Set(0..<8))
        #expect(Self.closed(pair.actionsOfA) == .bothSeeds || Self.closed(pair.actionsOfB) == .bothSeeds)
        // A leecher that wants the rest keeps the seed.
        let wanting = Self.pair(aHas: [0, 1, 2, 3], bHas: Set(0..<8))
        #expect(wanting.a.phase == .active && Self.closed(wanting.actionsOfA) == nil)
    }

    @Test func becomingAPartialSeedIsSaidWithANewExtensionHandshake() {
        var pair = Self.pair(aHas: [0, 1, 2], aWants: [0, 1, 2, 3], bHas: [3, 4])
        #expect(Self.saidUploadOnly(pair.actionsOfA) == [false])
        pair.apply(pair.a.havePiece(3, now: pair.now), fromA: true)
        pair.pump()
        #expect(Self.saidUploadOnly(pair.actionsOfA) == [false, true])
        #expect(pair.b.isUploadOnly)
        // B has piece 4, which A does not want: the connection stays (B is not upload only).
        #expect(pair.a.phase == .active)
        // Wanting piece 4 too: A is a downloader again and says so.
        pair.apply(pair.a.setWantedPieces(nil, now: pair.now), fromA: true)
        pair.pump()
        #expect(Self.saidUploadOnly(pair.actionsOfA) == [false, true, false])
        #expect(!pair.b.isUploadOnly && pair.a.amInterested)
    }

    @Test func donthaveTakesThePieceAwayAndInterestFollows() throws {
        var pair = Self.pair(aHas: [], bHas: [5])
        #expect(pair.a.amInterested)
        // A numbered lt_donthave in its handshake; B sends it for piece 5, the only one A wanted from it.
        let handshake = try #require(
            pair.actionsOfA.compactMap { action -> ExtensionHandshake? in
                guard case .send(.extended(let message)) = action, message.id == 0 else { return nil }
                return try? ExtensionHandshake(decoding: message.payload.readableBytesView)
            }.first)
        let id = try #require(handshake.messages[ExtensionHandshake.Name.donthave])
        let message = PeerMessage.extended(
            ExtendedMessage(id: id, payload: ByteBuffer(bytes: DontHaveMessage(piece: 5).encoded())))
        let actions = pair.a.receive(message: message, now: pair.now)
        #expect(
            actions.contains {
                if case .peerHas(.pieces(let pieces)) = $0 { return pieces.isNoneSet } else { return false }
            })
        #expect(actions.contains(.send(.notInterested)))
        #expect(!pair.a.amInterested)
        // A piece past the torrent is malformed.
        let bad = PeerMessage.extended(
            ExtendedMessage(id: id, payload: ByteBuffer(bytes: DontHaveMessage(piece: 8).encoded())))
        #expect(Self.closed(pair.a.receive(message: bad, now: pair.now)) == .malformedPacket)
    }

    @Test func donthavePayloadsRoundTripAndRefuseOtherLengths() throws {
        for piece in [0, 7, 65_536, Int(Int32.max)] {
            #expect(try DontHaveMessage(decoding: DontHaveMessage(piece: piece).encoded()).piece == piece)
        }
        for bytes in [[], [0, 0, 1], [0, 0, 0, 1, 0], [0xFF, 0, 0, 0]] as [[UInt8]] {
            #expect(throws: WireError.self) { try DontHaveMessage(decoding: bytes) }
        }
    }
}
