import BTMSE
import Foundation
import Testing

@testable import BTEngine

/// `Client.setEncryption(_:)` (the Transmission RPC's `encryption` in `session-set`): a seed started in
/// plaintext that is told to require RC4 refuses a plaintext leecher from then on, and takes an encrypted one;
/// told plaintext again, it takes the plaintext leecher.
@Suite(.serialized) struct ClientTakesANewEncryptionPolicyWhileRunning {
    @Test func aSeedToldToRequireRC4RefusesPlaintextThenTakesItAgain() async throws {
        let folder = try ClientFixtures.temporaryFolder("mse-switch")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let torrent = try ClientFixtures.makeSingleFileTorrent(
            in: folder, name: "switch.bin", length: 256 * 1024, pieceLength: 16 * 1024)
        var configuration = ClientConfiguration(host: "127.0.0.114")
        configuration.usesTrackers = false
        let seed = try await Client(configuration: configuration)
        let seeding = try await seed.addTorrent(torrent, downloadDirectory: folder)
        #expect(await seed.encryption() == .none)
        try await seed.setEncryption(.required)
        #expect(await seed.encryption() == .required)

        /// Whether a leecher with `policy` completes from the seed within `limit`, and how the seed saw it.
        func leech(_ policy: EncryptionPolicy, _ name: String, limit: Duration) async throws -> (Bool, [PeerStatus]) {
            var leecherConfiguration = configuration
            leecherConfiguration.host = "127.0.0.115"
            leecherConfiguration.encryption = policy
            let leecher = try await Client(configuration: leecherConfiguration)
            let handle = try await leecher.addTorrent(torrent, downloadDirectory: folder + "/" + name)
            try await leecher.connect(host: "127.0.0.114", port: seed.port, for: handle)
            var seen: [PeerStatus] = []
            let status = await ClientFixtures.waitForCompletion(leecher, handle, limit: limit)
            seen = await seed.peers(of: seeding)
            await leecher.shutdown()
            return (status?.isComplete == true, seen)
        }
        let (plainDone, _) = try await leech(.none, "plain", limit: .seconds(5))
        #expect(!plainDone, "a plaintext leecher got through a seed that requires RC4")
        let (rc4Done, _) = try await leech(.required, "rc4", limit: .seconds(30))
        #expect(rc4Done)
        try await seed.setEncryption(.none)
        let (againDone, _) = try await leech(.none, "again", limit: .seconds(30))
        #expect(againDone)
        await seed.shutdown()
    }
}
