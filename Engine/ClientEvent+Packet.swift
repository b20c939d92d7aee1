import BTMetainfo
import BTWire

/// Messages of a peer's packet events in the form the seed's `packet_incoming`/`packet_outgoing` events give.
extension ClientEvent.Message {
    /// The seed's form of a message the wire decoded or sent; `pieceCount` sizes a bitfield.
    init(_ packet: PacketEvent, pieceCount: Int) {
        self = Self.describing(packet, pieceCount: pieceCount)
    }

    private static func describing(_ packet: PacketEvent, pieceCount: Int) -> ClientEvent.Message {
        switch packet.packet {
        case .handshake(let handshake):
            return .handshake(
                reserved: handshake.reserved.bytes, infoHash: handshake.infoHash, peerID: handshake.peerID.bytes)
        case .message(let message):
            switch message {
            case .keepAlive: return .keepalive
            case .choke: return .choke
            case .unchoke: return .unchoke
            case .interested: return .interested
            case .notInterested: return .notInterested
            case .have(let piece): return .have(index: piece)
            case .bitfield(let bits):
                return .bitfield(Bitfield(bytes: bits.readableBytesView, count: pieceCount) ?? Bitfield(count: 0))
            case .request(let r): return .request(index: r.piece, offset: r.offset, length: r.length)
            case .piece(let b): return .block(index: b.piece, offset: b.offset, length: b.data.readableBytes)
            case .cancel(let r): return .cancel(index: r.piece, offset: r.offset, length: r.length)
            case .port(let port): return .port(port)
            case .suggest(let piece): return .suggest(index: piece)
            case .haveAll: return .haveAll
            case .haveNone: return .haveNone
            case .reject(let r): return .reject(index: r.piece, offset: r.offset, length: r.length)
            case .allowedFast(let piece): return .allowedFast(index: piece)
            case .extended(let m): return .extended(id: m.id, payload: Array(m.payload.readableBytesView))
            case .hashRequest(let request): return .hashRequest(request)
            case .hashes(let hashes): return .hashes(hashes.request, hashCount: hashes.hashes.readableBytes / 32)
            case .hashReject(let request): return .hashReject(request)
            case .unknown(let id, let payload): return .unknown(id: id, length: payload.readableBytes)
            }
        }
    }
}
