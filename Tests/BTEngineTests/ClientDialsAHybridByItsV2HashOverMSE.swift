import BTMetainfo
import BTWire
import Foundation
import Testing

@testable import BTEngine

/// Over MSE a hybrid torrent that still lacks its metadata or its piece layers is dialled by its truncated v2
/// info-hash (libtorrent answers hash requests only on a connection named by it, and cannot upgrade an
/// encrypted v1 one). A peer that knows the torrent by its v1 hash only fails that MSE handshake: it is
/// dialled again at once by the v1 hash, still over MSE, and the hybrid downloads by its v1 hashes.
@Suite(.serialized) struct ClientDialsAHybridByItsV2HashOverMSE {
    @Test func aPeerThatKnowsOnlyTheV1HashIsRedialledByItOverMSE() async throws {
        let seedFolder = try ClientFixtures.temporaryFolder("hybrid-v1-seed")
        let leechFolder = try ClientFixtures.temporaryFolder("hybrid-v1-leech")
        defer {
            try? FileManager.default.removeItem(atPath: seedFolder)
            try? FileManager.default.removeItem(atPath: leechFolder)
        }
        let hybrid = try ClientExchangesPieceLayers.makeTorrent(in: seedFolder, version: .hybrid)
        // The seed sees the hybrid as a v1-only client does: the same info dictionary and v1 hash, no v2.
        var v1View = hybrid
        v1View.version = .v1
        v1View.infoHashes = InfoHashes(v1: hybrid.infoHashes.v1, v2: nil)
        v1View.pieceLayers = [:]
        var configuration = ClientConfiguration(host: "127.0.0.1", ports: [0])
        configuration.usesTrackers = false
        configuration.encryption = .preferred
        let seeder = try await Client(configuration: configuration)
        let leecher = try await Client(configuration: configuration)
        let reasons = Recorder<String>()
        leecher.events.on(.peerDisconnect) { event in
            if case .peerDisconnect(_, let reason) = event { reasons.append(reason.name) }
        }
        let seeding = try await seeder.addTorrent(v1View, downloadDirectory: seedFolder)
        let magnet = MagnetLink(
            infoHashes: hybrid.infoHashes, displayName: "hybrid",
            peers: [.init(host: "127.0.0.1", port: seeder.port)])
        let handle = try await leecher.addTorrent(magnet: magnet, downloadDirectory: leechFolder)
        // The hybrid waits 3 s for layers nobody has: the seed's side of the connection is seen meanwhile.
        var seedSide: [PeerStatus] = []
        #expect(
            await ClientFixtures.eventually(limit: .seconds(30)) {
                seedSide = await seeder.peers(of: seeding).filter(\.isActive)
                return !seedSide.isEmpty
            })
        let done = try #require(await ClientFixtures.waitForCompletion(leecher, handle, limit: .seconds(60)))
        let built = await leecher.torrent(of: handle)
        await leecher.shutdown()
        await seeder.shutdown()
        #expect(done.isComplete)
        #expect(ClientFixtures.identical(seedFolder, leechFolder))
        // The first dial (by the v2 hash) failed its MSE handshake; the second, by the v1 hash, kept MSE.
        #expect(reasons.values.first == "mseSyncFailure", "\(reasons.values)")
        #expect(!seedSide.isEmpty && seedSide.allSatisfy(\.isEncrypted), "\(seedSide)")
        // Nobody gave the layers: the hybrid went on by its v1 hashes, its info dictionary intact.
        #expect(built?.infoBytes == hybrid.infoBytes)
        #expect(built?.filesMissingPieceLayers.count == 2)
    }

    @Test func aHybridSeedAnswersTheV2IdentityOverMSEAndServesItsLayers() async throws {
        let seedFolder = try ClientFixtures.temporaryFolder("hybrid-v2-seed")
        let leechFolder = try ClientFixtures.temporaryFolder("hybrid-v2-leech")
        defer {
            try? FileManager.default.removeItem(atPath: seedFolder)
            try? FileManager.default.removeItem(atPath: leechFolder)
        }
        let hybrid = try ClientExchangesPieceLayers.makeTorrent(in: seedFolder, version: .hybrid)
        var configuration = ClientConfiguration(host: "127.0.0.1", ports: [0])
        configuration.usesTrackers = false
        configuration.encryption = .required
        let seeder = try await Client(configuration: configuration)
        let leecher = try await Client(configuration: configuration)
        let reasons = Recorder<String>()
        leecher.events.on(.peerDisconnect) { event in
            if case .peerDisconnect(_, let reason) = event { reasons.append(reason.name) }
        }
        _ = try await seeder.addTorrent(hybrid, downloadDirectory: seedFolder)
        let stripped = try Torrent(infoDictionary: hybrid.infoBytes, trackers: [])
        let handle = try await leecher.addTorrent(stripped, downloadDirectory: leechFolder)
        try await leecher.connect(host: "127.0.0.1", port: seeder.port, for: handle)
        let done = try #require(await ClientFixtures.waitForCompletion(leecher, handle, limit: .seconds(60)))
        let layers = await leecher.torrent(of: handle)?.pieceLayers
        await leecher.shutdown()
        await seeder.shutdown()
        #expect(done.isComplete)
        #expect(layers == hybrid.pieceLayers)
        #expect(!reasons.values.contains("mseSyncFailure"), "the v2 dial was refused: \(reasons.values)")
    }
}
