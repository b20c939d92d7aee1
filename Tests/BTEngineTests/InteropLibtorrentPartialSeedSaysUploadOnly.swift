import BTMetainfo
import Foundation
import Testing

@testable import BTEngine

/// BEP 21 from libtorrent's side: a libtorrent partial seed (python3-libtorrent, `Fixtures/lt_peer.py
/// partial-seed`: of two 256 KiB files it wants and has only the first) says `upload_only` in its extension
/// handshake. Our leecher, which wants both files, dials it on loopback, takes the first file's pieces from it
/// and shows it as upload only (``PeerStatus/Flags/uploadOnly``) but not as a seed (it lacks the second file).
/// The mirror of `Tests/cli/upload_only_libtorrent.sh`, where libtorrent sees ours. Skipped when libtorrent is
/// missing, unless NBT_REQUIRE_INTEROP=1.
@Suite(.serialized) struct InteropLibtorrentPartialSeedSaysUploadOnly {
    @Test func ourLeecherSeesLibtorrentsPartialSeedAsUploadOnlyNotSeed() async throws {
        guard InteropLibtorrentTransfers.libtorrentAvailable() else { return }
        let seedFolder = try ClientFixtures.temporaryFolder("lt-partial")
        let leechFolder = try ClientFixtures.temporaryFolder("nbt-partial-leech")
        defer {
            try? FileManager.default.removeItem(atPath: seedFolder)
            try? FileManager.default.removeItem(atPath: leechFolder)
        }
        let payload = (seedFolder as NSString).appendingPathComponent("set")
        try ClientFixtures.writePayload([("a.bin", 256 * 1024), ("b.bin", 256 * 1024)], in: payload, seed: 21)
        var creator = TorrentCreator(path: payload)
        creator.version = .v1
        creator.pieceLength = 16 * 1024
        creator.creationDate = nil
        let torrent = try creator.create()
        let torrentFile = try InteropLibtorrentTransfers.writeTorrentFile(torrent, in: seedFolder)
        // libtorrent gets only the file it wants.
        try FileManager.default.removeItem(atPath: (payload as NSString).appendingPathComponent("b.bin"))
        let peer = try InteropProcess([
            InteropLibtorrentTransfers.python,
            InteropLibtorrentTransfers.fixtures.appendingPathComponent("lt_peer.py").path, "partial-seed",
            "127.0.0.2", torrentFile, seedFolder, "1",
        ])
        defer { peer.stop() }
        let facts = try #require(await peer.firstJSON())
        let port = try #require(facts.ints["port"], "libtorrent: \(facts)")

        var configuration = ClientConfiguration(host: "127.0.0.3", ports: [0])
        configuration.usesTrackers = false
        configuration.encryption = .none
        let client = try await Client(configuration: configuration)
        let handle = try await client.addTorrent(torrent, downloadDirectory: leechFolder)
        try await client.connect(host: "127.0.0.2", port: port, for: handle)
        let firstFilePieces = 16
        let gotFirstFile = await ClientFixtures.eventually {
            await client.status(of: handle)?.verifiedPieces == firstFilePieces
        }
        let verified = await client.status(of: handle)?.verifiedPieces
        #expect(gotFirstFile, "the first file's pieces come from the partial seed: \(String(describing: verified))")
        let status = await client.peers(of: handle).first { "\($0.endpoint.address)" == "127.0.0.2" }
        let flags = try #require(status?.flags, "libtorrent is no longer connected")
        #expect(flags.contains(.uploadOnly), "flags: \(flags.names)")
        #expect(!flags.contains(.seed), "a partial seed is not a seed: \(flags.names)")
        #expect(await client.status(of: handle)?.isComplete == false)
        await client.shutdown()
    }
}
