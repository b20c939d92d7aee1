import BTMSE
import Foundation
import Testing

@testable import BTEngine

/// Incoming MSE when the client's policy is `none` but a torrent's own ``TorrentLimits/encryption`` is not
/// (issue 14): the listener answers MSE while some torrent asks for it, and each torrent's policy decides
/// once the handshake names it: a torrent that requires RC4 gets its encrypted peers, one that prefers it
/// takes plaintext peers too, and a torrent left on the client's `none` refuses an MSE peer even while
/// another torrent of the client keeps the responder on.
@Suite(.serialized) struct PlaintextClientAnswersMSEForATorrentThatWantsIt {
    @Test func aTorrentThatRequiresRC4OnAPlaintextClientAcceptsAnEncryptedPeer() async throws {
        let result = try await ClientEncryptsWithMSE.transfer(
            seed: .none, leecher: .required, seedTorrent: .required, limit: .seconds(60))
        #expect(result.complete)
        #expect(!result.seedSide.isEmpty && result.seedSide.allSatisfy(\.isEncrypted), "\(result.seedSide)")
    }

    @Test func aTorrentThatPrefersRC4OnAPlaintextClientStillAcceptsPlaintext() async throws {
        let result = try await ClientEncryptsWithMSE.transfer(
            seed: .none, leecher: .none, seedTorrent: .preferred, limit: .seconds(60))
        #expect(result.complete)
        #expect(!result.seedSide.isEmpty && result.seedSide.allSatisfy { !$0.isEncrypted })
    }

    @Test func aTorrentOnTheClientsPlaintextPolicyRefusesMSEWhileAnotherTorrentWantsIt() async throws {
        let folder = try ClientFixtures.temporaryFolder("mse-mixed")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let plain = try ClientFixtures.makeSingleFileTorrent(
            in: folder, name: "plain.bin", length: 200_000, pieceLength: 16 * 1024)
        let wanting = try ClientFixtures.makeSingleFileTorrent(
            in: folder, name: "wanting.bin", length: 300_000, pieceLength: 16 * 1024)
        var configuration = ClientConfiguration(host: "127.0.0.112")
        configuration.usesTrackers = false
        let seed = try await Client(configuration: configuration)
        let plainSeed = try await seed.addTorrent(plain, downloadDirectory: folder)
        try await seed.addTorrent(wanting, downloadDirectory: folder, limits: TorrentLimits(encryption: .required))
        configuration.host = "127.0.0.113"
        configuration.encryption = .required
        let leecher = try await Client(configuration: configuration)
        let handle = try await leecher.addTorrent(plain, downloadDirectory: folder + "/down")
        try await leecher.connect(host: "127.0.0.112", port: seed.port, for: handle)
        let status = await ClientFixtures.waitForCompletion(leecher, handle, limit: .seconds(6))
        let seedSide = await seed.peers(of: plainSeed).filter(\.isActive)
        await leecher.shutdown()
        await seed.shutdown()
        #expect(status?.isComplete != true)
        #expect(seedSide.isEmpty)
    }
}
