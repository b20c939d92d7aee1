import BTMSE
import BTMetainfo
import BTTracker
import Foundation
import Testing

@testable import BTEngine

/// Message stream encryption in the client (issue 14): two clients that require it transfer a torrent over
/// RC4 (both peers report `isEncrypted`); a client that prefers it reaches a plaintext-only peer by
/// redialling it in plaintext; a client that requires it never talks to a plaintext-only one; a torrent's own
/// policy (`TorrentLimits.encryption`) overrides its client's; the tracker hears the policy's crypto keys.
@Suite(.serialized) struct ClientEncryptsWithMSE {
    static func transfer(
        seed seedPolicy: EncryptionPolicy, leecher leecherPolicy: EncryptionPolicy,
        seedTorrent: EncryptionPolicy? = nil, leecherTorrent: EncryptionPolicy? = nil, limit: Duration
    ) async throws -> (complete: Bool, seedSide: [PeerStatus], leecherSide: [PeerStatus]) {
        let folder = try ClientFixtures.temporaryFolder("mse")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let torrent = try ClientFixtures.makeSingleFileTorrent(
            in: folder, name: "mse.bin", length: 1 << 20, pieceLength: 64 * 1024)
        var configuration = ClientConfiguration(host: "127.0.0.110")
        configuration.usesTrackers = false
        configuration.encryption = seedPolicy
        let seed = try await Client(configuration: configuration)
        let seedHandle = try await seed.addTorrent(
            torrent, downloadDirectory: folder, limits: TorrentLimits(encryption: seedTorrent))
        configuration.host = "127.0.0.111"
        configuration.encryption = leecherPolicy
        // Slow enough (about 4 s) that the connection is seen while it carries the transfer.
        configuration.downloadLimit = .bytesPerSecond(256 * 1024, burst: 64 * 1024)
        let leecher = try await Client(configuration: configuration)
        let handle = try await leecher.addTorrent(
            torrent, downloadDirectory: folder + "/down", limits: TorrentLimits(encryption: leecherTorrent))
        try await leecher.connect(host: "127.0.0.110", port: seed.port, for: handle)
        var seedSide: [PeerStatus] = []
        var leecherSide: [PeerStatus] = []
        _ = await ClientFixtures.eventually(limit: limit) {
            leecherSide = await leecher.peers(of: handle).filter(\.isActive)
            seedSide = await seed.peers(of: seedHandle).filter(\.isActive)
            return !leecherSide.isEmpty && !seedSide.isEmpty
        }
        let status = await ClientFixtures.waitForCompletion(leecher, handle, limit: limit)
        await leecher.shutdown()
        await seed.shutdown()
        return (status?.isComplete == true, seedSide, leecherSide)
    }

    @Test func twoClientsThatRequireEncryptionTransferOverRC4() async throws {
        let result = try await Self.transfer(seed: .required, leecher: .required, limit: .seconds(60))
        #expect(result.complete)
        #expect(!result.leecherSide.isEmpty && result.leecherSide.allSatisfy(\.isEncrypted), "\(result.leecherSide)")
        #expect(!result.seedSide.isEmpty && result.seedSide.allSatisfy(\.isEncrypted), "\(result.seedSide)")
    }

    @Test func aPreferringClientRedialsAPlaintextOnlyPeerInPlaintext() async throws {
        let result = try await Self.transfer(seed: .none, leecher: .preferred, limit: .seconds(60))
        #expect(result.complete)
        #expect(!result.leecherSide.isEmpty && result.leecherSide.allSatisfy { !$0.isEncrypted })
    }

    @Test func aPreferringSeedAcceptsBothKinds() async throws {
        let encrypted = try await Self.transfer(seed: .preferred, leecher: .required, limit: .seconds(60))
        #expect(encrypted.complete)
        let plain = try await Self.transfer(seed: .preferred, leecher: .none, limit: .seconds(60))
        #expect(plain.complete)
    }

    @Test func aRequiringClientNeverTalksToAPlaintextOnlyPeer() async throws {
        let result = try await Self.transfer(seed: .none, leecher: .required, limit: .seconds(8))
        #expect(!result.complete)
        #expect(result.leecherSide.isEmpty)
    }

    @Test func aTorrentThatRequiresEncryptionDialsWithRC4FromAPlaintextClient() async throws {
        let result = try await Self.transfer(
            seed: .required, leecher: .none, leecherTorrent: .required, limit: .seconds(60))
        #expect(result.complete)
        #expect(!result.leecherSide.isEmpty && result.leecherSide.allSatisfy(\.isEncrypted), "\(result.leecherSide)")
    }

    @Test func aTorrentThatRequiresEncryptionRefusesPlaintextPeersOfAPreferringClient() async throws {
        let result = try await Self.transfer(
            seed: .preferred, leecher: .none, seedTorrent: .required, limit: .seconds(8))
        #expect(!result.complete)
        #expect(result.seedSide.isEmpty)
    }

    @Test func aTorrentWithoutEncryptionRefusesMSEPeersOfAPreferringClient() async throws {
        let result = try await Self.transfer(
            seed: .preferred, leecher: .required, seedTorrent: EncryptionPolicy.none, limit: .seconds(8))
        #expect(!result.complete)
        #expect(result.seedSide.isEmpty)
    }

    @Test(arguments: [
        (EncryptionPolicy.none, AnnounceEncryption.unsupported), (.preferred, .supported), (.required, .required),
    ])
    func theTrackerHearsTheCryptoKeysOfThePolicy(policy: EncryptionPolicy, announced: AnnounceEncryption) {
        #expect(Announcer.announceEncryption(policy) == announced)
    }
}
