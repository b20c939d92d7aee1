import BTMetainfo
import NIOCore
import Testing

@testable import BTWire

/// Issue 12: messages that carry no data but cost work (redundant haves, repeated availability, cancels,
/// keep-alives, extension messages) are budgeted per peer (``PeerInputLimits``); past a budget the peer is
/// disconnected with the documented reason, while the same messages at an honest pace are fine.
@Suite struct IncomingFloodsAreCutOffPerPeer {
    /// A connected pair: A (no pieces) talks to B (a seed of 8 pieces), both with the fast extension unless
    /// told otherwise; B numbers ut_pex 1.
    static func pair(fast: Bool = true) -> PeerPair {
        let content = PeerPair.content(size: 8 * 16384, seed: 3)
        var seed = PeerPair.configuration(content: content, pieceLength: 16384, have: true, fast: fast, peerIDByte: 2)
        // id 99: an extension the machine does not parse itself but hands on (`.other`), as assigned ids are.
        seed.extensionHandshake.messages = [ExtensionHandshake.Name.pex: 1, "nbt_test": 99]
        var pair = PeerPair(
            a: PeerPair.configuration(content: content, pieceLength: 16384, have: false, fast: fast, peerIDByte: 1),
            b: seed, content: content)
        pair.connect()
        return pair
    }

    /// Feeds B `message` up to `attempts` times, `spacing` apart; returns the attempt that closed it.
    static func flood(
        _ pair: inout PeerPair, _ message: (Int) -> PeerMessage, attempts: Int, spacing: Int64 = 0
    ) -> (attempt: Int, reason: DisconnectReason, detail: String)? {
        for attempt in 1...attempts {
            for action in pair.b.receive(message: message(attempt), now: pair.now) {
                if case .disconnect(let reason, let detail) = action { return (attempt, reason, detail) }
            }
            pair.advance(seconds: spacing)
        }
        return nil
    }

    @Test func redundantHavesPastTheBudgetAreAViolation() {
        var pair = Self.pair()
        // The first `have` of piece 0 is news; every later one is redundant.
        let closed = Self.flood(&pair, { _ in .have(piece: 0) }, attempts: 200)
        #expect(closed?.attempt == 1 + PeerInputLimits().maximumRedundantHaves + 1)
        #expect(closed?.reason == .protocolViolation)
        #expect(closed?.detail.contains("redundant have") == true)
    }

    @Test func redundantHavesAtAnHonestPaceAreFine() {
        var pair = Self.pair()
        #expect(Self.flood(&pair, { _ in .have(piece: 0) }, attempts: 200, spacing: 1) == nil)
        #expect(pair.b.phase == .active)
    }

    @Test func repeatedAvailabilityMessagesPastTheBudgetAreAViolation() {
        var pair = Self.pair()  // A announced `have none` when the connection opened: the first of the window
        let bits = ByteBuffer(bytes: [0b1000_0000])
        let closed = Self.flood(&pair, { _ in .bitfield(bits) }, attempts: 100)
        // The first bitfield adds piece 0, which does not count (aria2 sends growing bitfields as it
        // downloads); every later one adds nothing and counts.
        #expect(closed?.attempt == PeerInputLimits().maximumAvailabilityMessages + 1)
        #expect(closed?.reason == .protocolViolation)
        #expect(closed?.detail.contains("availability") == true)
        var again = Self.pair()
        #expect(Self.flood(&again, { _ in .haveNone }, attempts: 100)?.attempt == 8)
    }

    @Test func aFewLaterBitfieldsAreToleratedAsLibtorrentAndAria2NeedIt() {
        var pair = Self.pair(fast: false)  // without the fast extension an empty peer sends no bitfield
        _ = pair.b.receive(message: .have(piece: 1), now: pair.now)
        let bits = ByteBuffer(bytes: [0b1000_0000])
        // aria2 sends a bitfield after `have`s; libtorrent accepts a bitfield that replaces an earlier one.
        #expect(Self.flood(&pair, { _ in .bitfield(bits) }, attempts: 3) == nil)
        #expect(pair.b.phase == .active)
        // At an honest pace, any number.
        #expect(Self.flood(&pair, { _ in .bitfield(bits) }, attempts: 20, spacing: 5) == nil)
    }

    @Test func cancelsPastTheBudgetAreARequestFlood() {
        var pair = Self.pair()
        let request = BlockRequest(piece: 2, offset: 0, length: 16384)
        let closed = Self.flood(&pair, { _ in .cancel(request) }, attempts: 20_000)
        #expect(closed?.attempt == PeerInputLimits().maximumCancels + 1)
        #expect(closed?.reason == .requestFlood)
    }

    @Test func keepAlivesPastTheBudgetAreAViolationAndAtBEP3PaceAreFine() {
        var pair = Self.pair()
        let closed = Self.flood(&pair, { _ in .keepAlive }, attempts: 100)
        #expect(closed?.attempt == PeerInputLimits().maximumKeepAlives + 1)
        #expect(closed?.reason == .protocolViolation)
        var honest = Self.pair()
        #expect(Self.flood(&honest, { _ in .keepAlive }, attempts: 100, spacing: 60) == nil)
    }

    @Test func pexMoreOftenThanLibtorrentAllowsIsAViolation() {
        let pex = PeerMessage.extended(ExtendedMessage(id: 1, payload: ByteBuffer(bytes: PEXMessage().encoded())))
        var pair = Self.pair()
        let closed = Self.flood(&pair, { _ in pex }, attempts: 10)
        #expect(closed?.attempt == 4)
        #expect(closed?.detail.contains("ut_pex") == true)
        var honest = Self.pair()
        #expect(Self.flood(&honest, { _ in pex }, attempts: 10, spacing: 21) == nil)
    }

    @Test func anExtensionMessageOfAnIDWeNeverAssignedIsAViolation() {
        var pair = Self.pair()
        let unassigned = PeerMessage.extended(ExtendedMessage(id: 77, payload: ByteBuffer(bytes: [1, 2, 3])))
        let closed = Self.flood(&pair, { _ in unassigned }, attempts: 10)
        #expect(closed?.attempt == 1)
        #expect(closed?.reason == .protocolViolation)
        #expect(closed?.detail.contains("never assigned") == true)
    }

    @Test func extensionMessagesPastTheBudgetAreAViolation() {
        var pair = Self.pair()
        let unknown = PeerMessage.extended(ExtendedMessage(id: 99, payload: ByteBuffer(bytes: [1, 2, 3])))
        let closed = Self.flood(&pair, { _ in unknown }, attempts: 2000)
        // A's extension handshake, when the connection opened, was the first of the window.
        #expect(closed?.attempt == PeerInputLimits().maximumExtensionMessages)
        #expect(closed?.reason == .protocolViolation)
        #expect(closed?.detail.contains("extension messages") == true)
    }

    @Test func hashMessagesPastTheBudgetAreAViolationAndAtAServingPaceAreFine() {
        let request = HashRequest(
            piecesRoot: [UInt8](repeating: 7, count: 32), baseLayer: 0, index: 0, length: 4, proofLayers: 1)
        for message in [PeerMessage.hashRequest(request), .hashReject(request)] {
            var pair = Self.pair()
            let closed = Self.flood(&pair, { _ in message }, attempts: 5000)
            #expect(closed?.attempt == PeerInputLimits().maximumHashMessages + 1)
            #expect(closed?.reason == .protocolViolation)
            #expect(closed?.detail.contains("hash messages") == true)
            // 50 a second (what we serve at most) for a minute is fine.
            var honest = Self.pair()
            for _ in 0..<60 {
                #expect(Self.flood(&honest, { _ in message }, attempts: 50) == nil)
                honest.advance(seconds: 1)
            }
        }
    }

    @Test func bigHashesMessagesAreBoundedByTheirBytes() {
        // 8,192 hashes a message (256 KiB): the byte budget ends a flood long before the message count.
        let request = HashRequest(
            piecesRoot: [UInt8](repeating: 7, count: 32), baseLayer: 0, index: 0, length: 8192, proofLayers: 12)
        let hashes = PeerMessage.hashes(
            HashesMessage(request: request, hashes: ByteBuffer(repeating: 1, count: (8192 + 0) * 32)))
        var pair = Self.pair()
        let closed = Self.flood(&pair, { _ in hashes }, attempts: 1000)
        let perMessage = 4 + hashes.payloadLength
        #expect(closed?.attempt == PeerInputLimits().maximumHashBytes / perMessage + 1)
        #expect(closed?.detail.contains("bytes of hash messages") == true)
    }

    @Test func unknownMessagesPastTheBudgetAreAViolation() {
        var pair = Self.pair()
        let closed = Self.flood(&pair, { _ in .unknown(id: 99, payload: ByteBuffer(bytes: [1])) }, attempts: 1000)
        #expect(closed?.attempt == PeerInputLimits().maximumUnknownMessages + 1)
        #expect(closed?.detail.contains("unknown ids") == true)
    }

    @Test func extensionMessageBytesAreBounded() {
        var pair = Self.pair()
        // Extension messages near the 64 KiB limit: 16 MiB in a window ends the connection before 500 messages do.
        let big = PeerMessage.extended(ExtendedMessage(id: 99, payload: ByteBuffer(repeating: 0, count: 65_000)))
        let closed = Self.flood(&pair, { _ in big }, attempts: 1000)
        #expect(closed != nil && closed!.attempt < PeerInputLimits().maximumExtensionMessages)
        #expect(closed?.detail.contains("bytes of extension messages") == true)
    }
}
