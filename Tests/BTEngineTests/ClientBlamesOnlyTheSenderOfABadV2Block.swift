import BTMetainfo
import BTStorage
import Foundation
import Testing

@testable import BTEngine

/// BEP 52 blame by block: a leecher of a v2 torrent downloads from three of our seeds (at .41, .42, .43).
/// Pieces whose blocks came from all three fail their hash with one bad block, sent by .43 (storage's
/// evidence, as ``PieceStore`` reports it, is handed to the downloader). The leecher asks a seed for each
/// piece's block hashes over the wire (the seed reads and hashes its piece to answer, with the proof up to the
/// file's root), and only .43 is blamed: on parole after the first piece, blacklisted and disconnected after
/// the third, while .41 and .42 are never on parole and stay connected.
@Suite(.serialized) struct ClientBlamesOnlyTheSenderOfABadV2Block {
    @Test func onlyTheSenderOfTheBadBlockIsBlamedAndBlacklisted() async throws {
        let seedFolder = try ClientFixtures.temporaryFolder("v2blame-seed")
        let leechFolder = try ClientFixtures.temporaryFolder("v2blame-leech")
        defer {
            try? FileManager.default.removeItem(atPath: seedFolder)
            try? FileManager.default.removeItem(atPath: leechFolder)
        }
        let payload = (seedFolder as NSString).appendingPathComponent("payload")
        try ClientFixtures.writePayload(ClientFixtures.files, in: payload, seed: 42)
        var creator = TorrentCreator(path: payload)
        creator.version = .v2
        creator.pieceLength = 64 * 1024  // four blocks a piece
        creator.creationDate = nil
        let torrent = try creator.create()

        var seeds: [(host: String, client: Client)] = []
        for host in ["127.0.0.41", "127.0.0.42", "127.0.0.43"] {
            var configuration = ClientConfiguration(host: host, ports: [0])
            configuration.encryption = .none
            configuration.usesTrackers = false
            let seed = try await Client(configuration: configuration)
            _ = try await seed.addTorrent(torrent, downloadDirectory: seedFolder)
            seeds.append((host, seed))
        }
        var configuration = ClientConfiguration(host: "127.0.0.40", ports: [0])
        configuration.encryption = .none
        configuration.usesTrackers = false
        // Slow, so the download is still running (and every seed connected) while the pieces fail.
        configuration.downloadLimit = .bytesPerSecond(8 * 1024, burst: 8 * 1024)
        let leecher = try await Client(configuration: configuration)
        let handle = try await leecher.addTorrent(torrent, downloadDirectory: leechFolder)
        let disconnects = Recorder<(String, BTEngine.DisconnectReason)>()
        leecher.events.on(.peerDisconnect) { event in
            if case .peerDisconnect(let peer, let reason) = event {
                disconnects.append(("\(peer.endpoint.address)", reason))
            }
        }
        for seed in seeds { try await leecher.connect(host: seed.host, port: seed.client.port, for: handle) }
        #expect(await ClientFixtures.eventually { await leecher.peers(of: handle).filter(\.isActive).count == 3 })

        let core = leecher.core
        let liar = IPAddress("127.0.0.43")!
        let honest = [IPAddress("127.0.0.41")!, IPAddress("127.0.0.42")!]
        let layout = torrent.layout
        for (round, piece) in [1, 2, 3].enumerated() {
            // The piece's blocks as written: block 2 (from .43) altered.
            var data: [UInt8] = []
            for slice in layout.slices(piece: piece) {
                let path = "\(payload)/\(layout.files[slice.fileIndex].path.joined(separator: "/"))"
                let bytes = try #require(FileManager.default.contents(atPath: path))
                data += bytes[Int(slice.offsetInFile)..<(Int(slice.offsetInFile) + slice.length)]
            }
            data[2 * 16_384 + 7] ^= 0x5A
            let hashes = data.withUnsafeBytes { MerkleTree.blockHashes($0) }
            try await core.loop.submit {
                let session = try #require(core.session(handle))
                let keys = Dictionary(
                    session.connections.values.map { ($0.endpoint.address.unmapped, $0.key) }, uniquingKeysWith: max)
                let senders = [honest[0], honest[1], liar, honest[0]].map { PeerTag(keys[$0]!) }
                core.downloads.pieceFailed(
                    piece, contributors: Set(senders.map(\.rawValue)),
                    blocks: FailedPieceBlocks(senders: senders, blockHashes: hashes), session: session)
            }.get()
            // The blame waits for a seed's block hashes; then only the liar is on parole, its score down 20 a piece.
            #expect(
                await ClientFixtures.eventually(limit: .seconds(30)) {
                    await leecher.reputation(of: liar) <= 100 - 20 * (round + 1) + 10
                }, "round \(round)")
            let paroled = try await core.loop.submit { honest.map { core.ledger.isOnParole($0) } }.get()
            #expect(paroled == [false, false])
            for address in honest { #expect(await leecher.reputation(of: address) >= 100) }
        }
        #expect(await ClientFixtures.eventually { await leecher.blacklist == [liar] })
        #expect(
            await ClientFixtures.eventually {
                disconnects.values.contains { $0.0 == "127.0.0.43" && [.blacklisted, .reputation].contains($0.1) }
            },
            "\(disconnects.values)")
        let active = Set(await leecher.peers(of: handle).filter(\.isActive).map { "\($0.endpoint.address)" })
        #expect(active.isSuperset(of: ["127.0.0.41", "127.0.0.42"]) && !active.contains("127.0.0.43"), "\(active)")
        await leecher.shutdown()
        for seed in seeds { await seed.client.shutdown() }
    }
}
