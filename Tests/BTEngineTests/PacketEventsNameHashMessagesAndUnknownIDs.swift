import BTMetainfo
import BTWire
import NIOCore
import Testing

@testable import BTEngine

/// Packet events carry BTWire's own message (one vocabulary: no engine copy of `PeerMessage` to keep in step),
/// and their kinds name BEP 52 hash messages and messages of unknown ids as what they are (they were all
/// reported as an `extended` message of id 255 with no payload once).
@Suite struct PacketEventsNameHashMessagesAndUnknownIDs {
    let request = HashRequest(
        piecesRoot: Array(repeating: 7, count: 32), baseLayer: 0, index: 4, length: 8, proofLayers: 2)
    let peer = ClientEvent.PeerInfo(endpoint: PeerEndpoint(address: .v4(0x7f00_0001), port: 1), isIncoming: true)

    private func kinds(_ message: PeerMessage) -> [String] {
        [
            ClientEvent.packetIncoming(peer, .message(message)).kind.rawValue,
            ClientEvent.packetOutgoing(peer, .message(message)).kind.rawValue,
        ]
    }

    @Test func hashMessagesHaveKindsOfTheirOwn() {
        let hashes = HashesMessage(request: request, hashes: ByteBuffer(repeating: 1, count: 10 * 32))
        #expect(kinds(.hashRequest(request)) == ["packet_incoming_hash_request", "packet_outgoing_hash_request"])
        #expect(kinds(.hashes(hashes)) == ["packet_incoming_hashes", "packet_outgoing_hashes"])
        #expect(kinds(.hashReject(request)) == ["packet_incoming_hash_reject", "packet_outgoing_hash_reject"])
    }

    @Test func anUnknownIDIsReportedAsUnknownWithItsPayload() {
        let unknown = PeerMessage.unknown(id: 42, payload: ByteBuffer(repeating: 0, count: 300))
        #expect(kinds(unknown) == ["packet_incoming_unknown", "packet_outgoing_unknown"])
        guard
            case .packetIncoming(_, .message(.unknown(let id, let payload))) = ClientEvent.packetIncoming(
                peer, .message(unknown))
        else {
            Issue.record("not an unknown message")
            return
        }
        #expect(id == 42 && payload.readableBytes == 300)
    }

    @Test func observersGetTheWireMessageItself() {
        let block = Block(piece: 3, offset: 16384, data: ByteBuffer(repeating: 9, count: 100))
        let event = ClientEvent.packetOutgoing(peer, .message(.piece(block)))
        #expect(event.kind == .packetOutgoingBlock)
        guard case .packetOutgoing(_, .message(.piece(let sent))) = event else {
            Issue.record("not a piece message")
            return
        }
        #expect(sent == block)
    }
}
