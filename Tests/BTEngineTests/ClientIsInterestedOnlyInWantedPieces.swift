import BTMetainfo
import BTStorage
import Foundation
import Testing

@testable import BTEngine

/// Interest follows BEP 3: we are interested in a peer exactly while it has a piece that we want (its file
/// is not skipped) and have not verified; it is updated when the peer's bitfield or `have`s arrive and when
/// file priorities change.
@Suite(.serialized) struct ClientIsInterestedOnlyInWantedPieces {
    @Test func interestFollowsWantedPiecesThePeerHas() async throws {
        let folder = try ClientFixtures.temporaryFolder("interest-src")
        let target = try ClientFixtures.temporaryFolder("interest-leech")
        defer {
            try? FileManager.default.removeItem(atPath: folder)
            try? FileManager.default.removeItem(atPath: target)
        }
        // Three files of four 16 KiB pieces each: a.bin is pieces 0-3, b.bin 4-7, c.bin 8-11.
        try ClientFixtures.writePayload(
            [("set/a.bin", 65_536), ("set/b.bin", 65_536), ("set/c.bin", 65_536)], in: folder, seed: 11)
        var creator = TorrentCreator(path: "\(folder)/set")
        creator.version = .v1
        creator.pieceLength = 16 * 1024
        creator.creationDate = nil
        let torrent = try creator.create()
        let names = torrent.layout.files.map { $0.path.last ?? "" }
        #expect(names == ["a.bin", "b.bin", "c.bin"])

        var configuration = ClientConfiguration(host: "127.0.0.1", ports: [0])
        configuration.usesTrackers = false
        let leecher = try await Client(configuration: configuration)
        let handle = try await leecher.addTorrent(
            torrent, downloadDirectory: target, filePriorities: [.normal, .skip, .normal])
        let peer = RawPeer(infoHash: handle.wireInfoHash, requests: [], stopsReading: false)
        try await peer.connect(port: leecher.port)
        func status() async -> PeerStatus? { await leecher.peers(of: handle).first }
        #expect(await ClientFixtures.eventually { await status()?.phase == .connected })

        // The peer has only b.bin, which we skip: not interesting.
        try await peer.send([0, 0, 0, 3, 5, 0x0f, 0x00])
        #expect(await ClientFixtures.eventually { await status()?.peerPieceCount == 4 })
        #expect(await status()?.amInterested == false)
        #expect(!peer.receivedIDs.contains(2), "no `interested` for pieces of a skipped file")

        // It gets piece 0 (a.bin): interesting.
        try await peer.send([0, 0, 0, 5, 4, 0, 0, 0, 0])
        #expect(await ClientFixtures.eventually { await status()?.amInterested == true })
        #expect(await ClientFixtures.eventually { peer.receivedIDs.contains(2) })

        // a.bin skipped too: the peer has nothing wanted left, `not interested`.
        try await leecher.setFilePriorities(handle, [.skip, .skip, .normal])
        #expect(await status()?.amInterested == false)
        #expect(await ClientFixtures.eventually { peer.receivedIDs.last == 3 })

        // b.bin wanted again: interested again.
        try await leecher.setFilePriorities(handle, [.skip, .normal, .normal])
        #expect(await status()?.amInterested == true)
        #expect(await ClientFixtures.eventually { peer.receivedIDs.filter { $0 == 2 }.count == 2 })
        await peer.close()
        await leecher.shutdown()
    }
}
