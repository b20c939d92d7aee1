import BTMetainfo
import NIOCore
import Testing

@testable import BTWire

/// A hybrid torrent's connections accept a handshake naming its truncated v2 hash as well as its v1 hash:
/// libtorrent answers a v1 handshake carrying the v2 bit with the v2 hash (BEP 52's upgrade), which we
/// refused as a mismatch before, so no plaintext connection to a libtorrent hybrid seed ever got through.
@Suite struct HybridHandshakesNameEitherInfoHash {
    let v1 = [UInt8](repeating: 0x11, count: 20)
    let v2Truncated = [UInt8](repeating: 0x22, count: 20)

    private func machine(incoming: Bool, alternate: [UInt8]?) -> PeerStateMachine {
        var configuration = PeerConfiguration(
            infoHash: v1, localPeerID: PeerID.generate(), pieceLength: 16384, totalLength: 16384,
            localPieces: Bitfield(count: 1))
        configuration.alternateInfoHash = alternate
        var machine = PeerStateMachine(
            configuration: configuration, incoming: incoming, source: .tracker, now: .uptimeNanoseconds(0))
        _ = machine.startConnecting(now: .uptimeNanoseconds(0))
        _ = machine.connectionEstablished(now: .uptimeNanoseconds(0))
        return machine
    }

    private func handshake(_ infoHash: [UInt8]) -> ByteBuffer {
        ByteBuffer(bytes: Handshake(reserved: .local(), infoHash: infoHash, peerID: PeerID.generate()).encoded)
    }

    private func disconnected(_ actions: [PeerAction]) -> DisconnectReason? {
        for case .disconnect(let reason, _) in actions { return reason }
        return nil
    }

    @Test func anOutgoingConnectionTakesTheUpgradeToTheV2Hash() {
        var outgoing = machine(incoming: false, alternate: v2Truncated)
        #expect(disconnected(outgoing.receive(handshake(v2Truncated), now: .uptimeNanoseconds(0))) == nil)
        #expect(outgoing.remoteHandshake?.infoHash == v2Truncated)
    }

    @Test func anIncomingConnectionIsAnsweredWithTheHashItNamed() {
        for named in [v1, v2Truncated] {
            var incoming = machine(incoming: true, alternate: v2Truncated)
            let actions = incoming.receive(handshake(named), now: .uptimeNanoseconds(0))
            #expect(disconnected(actions) == nil)
            let sent = actions.compactMap { action -> Handshake? in
                if case .sendHandshake(let ours) = action { return ours }
                return nil
            }
            #expect(sent.map(\.infoHash) == [named])
            #expect(incoming.remoteHandshake?.infoHash == named)
        }
    }

    @Test func withoutAnAlternateHashTheV2HashIsStillAMismatch() {
        var outgoing = machine(incoming: false, alternate: nil)
        #expect(
            disconnected(outgoing.receive(handshake(v2Truncated), now: .uptimeNanoseconds(0)))
                == .handshakeInfoHashMismatch)
        var other = machine(incoming: false, alternate: v2Truncated)
        #expect(
            disconnected(other.receive(handshake([UInt8](repeating: 0x33, count: 20)), now: .uptimeNanoseconds(0)))
                == .handshakeInfoHashMismatch)
    }

    @Test func onlyAHybridTorrentsConfigurationHasAnAlternateHash() throws {
        let hybrid = try PieceLayersAreRecoveredFromPeersWithProofs.makeTorrent(.hybrid)
        let configuration = PeerConfiguration(
            torrent: hybrid, localPeerID: PeerID.generate(), localPieces: Bitfield(count: hybrid.pieceCount))
        #expect(configuration.infoHash == hybrid.infoHashes.v1)
        #expect(configuration.alternateInfoHash == hybrid.infoHashes.v2Truncated)
        for version in [TorrentVersion.v1, .v2] {
            let single = try PieceLayersAreRecoveredFromPeersWithProofs.makeTorrent(version)
            #expect(
                PeerConfiguration(
                    torrent: single, localPeerID: PeerID.generate(), localPieces: Bitfield(count: single.pieceCount)
                )
                .alternateInfoHash == nil)
        }
    }
}
