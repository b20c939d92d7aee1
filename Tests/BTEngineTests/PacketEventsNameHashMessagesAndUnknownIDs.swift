import BTMetainfo
import BTWire
import NIOCore
import Testing

@testable import BTEngine

/// Packet events describe BEP 52 hash messages and messages of unknown ids as what they are (they were all
/// reported as an `extended` message of id 255 with no payload before).
@Suite struct PacketEventsNameHashMessagesAndUnknownIDs {
    let request = HashRequest(
        piecesRoot: Array(repeating: 7, count: 32), baseLayer: 0, index: 4, length: 8, proofLayers: 2)

    private func described(_ message: PeerMessage) -> ClientEvent.Message {
        ClientEvent.Message(PacketEvent(.incoming, .message(message)), pieceCount: 10)
    }

    @Test func hashRequestsAndRejectsKeepTheirRequest() {
        #expect(described(.hashRequest(request)) == .hashRequest(request))
        #expect(described(.hashRequest(request)).name == "hash_request")
        #expect(described(.hashReject(request)) == .hashReject(request))
        #expect(described(.hashReject(request)).name == "hash_reject")
    }

    @Test func hashesCountTheHashesTheyCarry() {
        let hashes = HashesMessage(request: request, hashes: ByteBuffer(repeating: 1, count: 10 * 32))
        #expect(described(.hashes(hashes)) == .hashes(request, hashCount: 10))
        #expect(described(.hashes(hashes)).name == "hashes")
    }

    @Test func everyMessageNameHasAnEventKindBothWays() {
        let messages: [ClientEvent.Message] = [
            .hashRequest(request), .hashes(request, hashCount: 2), .hashReject(request), .unknown(id: 9, length: 0),
            .extended(id: 1, payload: []), .keepalive, .allowedFast(index: 0),
        ]
        let peer = ClientEvent.PeerInfo(endpoint: PeerEndpoint(address: .v4(0x7f00_0001), port: 1), isIncoming: true)
        for message in messages {
            #expect(ClientEvent.packetIncoming(peer, message).kind.rawValue == "packet_incoming_" + message.name)
            #expect(ClientEvent.packetOutgoing(peer, message).kind.rawValue == "packet_outgoing_" + message.name)
        }
    }

    @Test func anUnknownIDKeepsItsIDAndLength() {
        let message = described(.unknown(id: 42, payload: ByteBuffer(repeating: 0, count: 300)))
        #expect(message == .unknown(id: 42, length: 300))
        #expect(message.name == "unknown")
    }
}
