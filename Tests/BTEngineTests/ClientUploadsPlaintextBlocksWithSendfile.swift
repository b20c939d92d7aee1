import BTMSE
import BTMetainfo
import BTWire
import Foundation
import Testing

@testable import BTEngine

/// Uploads by `sendfile` (issue 13): a seed serving a plaintext TCP peer sends each block that lies in one
/// file as its `piece` header plus a file region, and the leecher's copy is byte-identical; blocks that
/// span files (the fixture's 48 KiB pieces straddle file boundaries) take the buffered path in the same
/// transfer; an encrypted peer (MSE with RC4) gets every block from memory, since the file's bytes would
/// pass the cipher unencrypted.
@Suite(.serialized) struct ClientUploadsPlaintextBlocksWithSendfile {
    /// Seeds the fixture torrent with `seedEncryption`, downloads it with `leechEncryption`, checks the
    /// copy, and returns how many blocks the seed sent from files and how many bytes it uploaded.
    private func transfer(seedEncryption: EncryptionPolicy, leechEncryption: EncryptionPolicy) async throws -> (
        fromFiles: Int, uploaded: Int64, totalSize: Int64, openFiles: Int
    ) {
        let seedFolder = try ClientFixtures.temporaryFolder("sendfile-seed")
        let leechFolder = try ClientFixtures.temporaryFolder("sendfile-leech")
        defer {
            try? FileManager.default.removeItem(atPath: seedFolder)
            try? FileManager.default.removeItem(atPath: leechFolder)
        }
        let torrent = try ClientFixtures.makeTorrent(in: seedFolder)
        var seedConfiguration = ClientConfiguration(host: "127.0.0.1", ports: [0])
        seedConfiguration.reportsPacketEvents = false
        seedConfiguration.encryption = seedEncryption
        var leechConfiguration = ClientConfiguration(host: "127.0.0.1", ports: [0])
        leechConfiguration.encryption = leechEncryption
        let seeder = try await Client(configuration: seedConfiguration)
        try await seeder.onLoop { core in core.uploads.sendfileAllowed = true }
        let leecher = try await Client(configuration: leechConfiguration)
        let seeding = try await seeder.addTorrent(torrent, downloadDirectory: seedFolder)
        let downloading = try await leecher.addTorrent(torrent, downloadDirectory: leechFolder)
        try await leecher.connect(host: "127.0.0.1", port: seeder.port, for: downloading)
        let done = await ClientFixtures.waitForCompletion(leecher, downloading)
        #expect(done?.isComplete == true)
        let fromFiles = try await seeder.onLoop { core in core.uploads.blocksSentFromFiles }
        let openFiles = try await seeder.onLoop { core in
            core.session(seeding).map { core.uploads.files(of: $0).openCount } ?? -1
        }
        let uploaded = try #require(await seeder.status(of: seeding)).uploadedBytes
        await leecher.shutdown()
        await seeder.shutdown()
        #expect(ClientFixtures.identical(seedFolder, leechFolder))
        return (fromFiles, uploaded, torrent.totalSize, openFiles)
    }

    @Test func plaintextPeerGetsBlocksFromFilesAndAnIdenticalCopy() async throws {
        let result = try await transfer(seedEncryption: .none, leechEncryption: .none)
        // 2,005,008 bytes in 123 blocks; the two that straddle alpha.bin, beta/small.txt and gamma.bin are
        // read into memory instead.
        #expect(result.fromFiles > 100)
        #expect(result.uploaded >= result.totalSize)
        // alpha.bin and gamma.bin held open once each, not once per block (small.txt is never a whole block).
        #expect(result.openFiles == 2)
    }

    @Test func encryptedPeerGetsEveryBlockFromMemory() async throws {
        let result = try await transfer(seedEncryption: .required, leechEncryption: .required)
        #expect(result.fromFiles == 0)
        #expect(result.uploaded >= result.totalSize)
    }
}
