import BTMetainfo
import Foundation
import Testing

@testable import BTEngine

/// A lying seeder (one of ours whose files were flipped on disk after its hash check, so it serves wrong
/// bytes for every piece) is the leecher's only peer at first: its pieces fail their hash, its reputation
/// falls (100, -20 per corrupt piece) until it is disconnected and blacklisted, and a redial is refused by
/// the filter. Then an honest seeder joins and the download completes byte-identically.
@Suite(.serialized) struct ClientBlacklistsACorruptSeeder {
    @Test func liarIsBlacklistedAndTheDownloadStillCompletes() async throws {
        let seedFolder = try ClientFixtures.temporaryFolder("honest")
        let liarFolder = try ClientFixtures.temporaryFolder("liar")
        let leechFolder = try ClientFixtures.temporaryFolder("leech")
        defer {
            for folder in [seedFolder, liarFolder, leechFolder] { try? FileManager.default.removeItem(atPath: folder) }
        }
        let torrent = try ClientFixtures.makeTorrent(in: seedFolder)
        _ = try ClientFixtures.makeTorrent(in: liarFolder)

        let honest = try await Client(configuration: ClientConfiguration(host: "127.0.0.21", ports: [0]))
        let liar = try await Client(configuration: ClientConfiguration(host: "127.0.0.22", ports: [0]))
        let leecher = try await Client(configuration: ClientConfiguration(host: "127.0.0.23", ports: [0]))
        try await honest.addTorrent(torrent, downloadDirectory: seedFolder)
        try await liar.addTorrent(torrent, downloadDirectory: liarFolder)

        // Flip one byte in every piece of the liar's data, after its hash check passed.
        try ClientFixtures.flipFirstByteOfEveryPiece(of: torrent, in: liarFolder)

        let disconnects = Recorder<(String, BTEngine.DisconnectReason)>()
        let failures = Recorder<Int>()
        let refused = Recorder<String>()
        leecher.events.on(.peerDisconnect) { event in
            if case .peerDisconnect(let peer, let reason) = event {
                disconnects.append(("\(peer.endpoint.address)", reason))
            }
        }
        leecher.events.on(.pieceHashFail) { event in
            if case .pieceHashFail(_, let index) = event { failures.append(index) }
        }
        leecher.events.on(.ipFilter) { event in
            if case .ipFilter(let endpoint, let allowed) = event, !allowed { refused.append("\(endpoint.address)") }
        }

        let handle = try await leecher.addTorrent(torrent, downloadDirectory: leechFolder)
        try await leecher.connect(host: "127.0.0.22", port: liar.port, for: handle)
        let start = ContinuousClock.now
        while !disconnects.values.contains(where: { $0.0 == "127.0.0.22" && $0.1 == .reputation }),
            ContinuousClock.now - start < .seconds(60)
        {
            try? await Task.sleep(for: .milliseconds(50))
        }
        #expect(disconnects.values.contains { $0.0 == "127.0.0.22" && $0.1 == .reputation })
        #expect(await leecher.blacklist == [IPAddress("127.0.0.22")!])
        #expect(await leecher.reputation(of: IPAddress("127.0.0.22")!) <= 50)
        #expect(failures.values.count >= 3)
        #expect(await leecher.status(of: handle)?.verifiedPieces == 0)

        // A redial of the liar is refused before anything is sent.
        try await leecher.connect(host: "127.0.0.22", port: liar.port, for: handle)
        try await leecher.connect(host: "127.0.0.21", port: honest.port, for: handle)
        let status = await ClientFixtures.waitForCompletion(leecher, handle, limit: .seconds(90))
        #expect(status?.isComplete == true, "status: \(String(describing: status)), disconnects: \(disconnects.values)")
        if status?.isComplete != true {
            let core = leecher.core
            let picture = try await core.loop.submit { () -> String in
                guard let session = core.session(handle) else { return "no session" }
                let missing = (0..<torrent.pieceCount).filter { !session.picker.have[$0] }
                return missing.map { piece in
                    "piece \(piece): \(session.picker.state(ofPiece: piece)) "
                        + session.picker.blocks(ofPiece: piece).map { "\(session.picker.state(of: $0))" }.joined(
                            separator: ", ")
                }.joined(separator: "; ")
            }.get()
            var storeMissing: [Int: [Int]] = [:]
            if let session = try await core.loop.submit({ core.session(handle) }).get() {
                for piece in 0..<torrent.pieceCount where !(await session.store.verifiedPieces[piece]) {
                    storeMissing[piece] = await session.store.missingBlocks(ofPiece: piece)
                }
            }
            Issue.record("stuck: \(String(describing: status)) \(disconnects.values) \(picture.prefix(300))")
        }
        #expect(refused.values.contains("127.0.0.22"))
        await leecher.shutdown()
        await liar.shutdown()
        await honest.shutdown()
        #expect(ClientFixtures.identical(seedFolder, leechFolder))
    }
}
