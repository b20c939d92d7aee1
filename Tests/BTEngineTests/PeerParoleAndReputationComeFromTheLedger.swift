import BTMetainfo
import Foundation
import NIOCore
import Testing

@testable import BTEngine

/// A peer's reputation and parole have one owner, the client-wide ``ReputationLedger`` (kept by address, across
/// connections): a connection from an address the ledger holds on parole is on parole from its first message
/// (the picker gives it whole pieces only), and its status shows the ledger's score. The wire state machine
/// kept a second, per-connection copy that started at 100 and off parole for every new connection.
@Suite(.serialized) struct PeerParoleAndReputationComeFromTheLedger {
    @Test func aPeerFromAnAddressOnParoleIsOnParoleFromItsFirstMessage() async throws {
        let folder = try ClientFixtures.temporaryFolder("parole-ledger")
        let empty = try ClientFixtures.temporaryFolder("parole-ledger-empty")
        defer {
            try? FileManager.default.removeItem(atPath: folder)
            try? FileManager.default.removeItem(atPath: empty)
        }
        let torrent = try ClientFixtures.makeSingleFileTorrent(
            in: folder, name: "parole.bin", length: 256 * 1024, pieceLength: 64 * 1024)
        var configuration = ClientConfiguration(host: "127.0.0.1")
        configuration.usesTrackers = false
        let client = try await Client(configuration: configuration)
        let handle = try await client.addTorrent(torrent, downloadDirectory: empty)
        // An earlier connection from 127.0.0.1 sent a corrupt piece: the ledger holds the address on parole.
        let address = try #require(IPAddress("127.0.0.1"))
        let score = try await client.onLoop { core in
            _ = core.ledger.pieceFailed(contributors: [address])
            return core.ledger.score(of: address)
        }
        #expect(score == 80)
        let peer = RawPeer(infoHash: handle.wireInfoHash, requests: [], stopsReading: false)
        try await peer.connect(port: client.port)
        #expect(await ClientFixtures.eventually { await client.peers(of: handle).first?.phase == .connected })
        let status = try #require(await client.peers(of: handle).first)
        #expect(status.isOnParole, "the ledger holds this address on parole")
        #expect(status.flags.contains(.onParole))
        #expect(status.reputation == 80)
        await peer.close()
        await client.shutdown()
    }
}
