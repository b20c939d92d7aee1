import BTMetainfo
import BTWire
import Foundation
import Testing

@testable import BTEngine

/// Peer exchange (BEP 11): a client told of one peer learns the others that peer is connected to, and
/// dials them (source PEX); a private torrent (BEP 27) exchanges nothing. Both sides learn of each other
/// (the first leecher tells the seed of the second and the second of the seed), so whichever dials first
/// makes the connection: its peer status says PEX on the side that dialled.
@Suite(.serialized) struct ClientExchangesPeers {
    /// A seed at .100; a first leecher at .101 dials it; a second leecher at .102 is told only of the
    /// first leecher, and must reach the seed through the first leecher's `ut_pex` message.
    static func swarm(isPrivate: Bool) async throws -> (sources: [String: Set<PeerSource>], clients: [Client]) {
        let folder = try ClientFixtures.temporaryFolder("pex")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        _ = try ClientFixtures.makeSingleFileTorrent(
            in: folder, name: "pex.bin", length: 512 * 1024, pieceLength: 16 * 1024)
        var creator = TorrentCreator(path: (folder as NSString).appendingPathComponent("pex.bin"))
        creator.version = .v1
        creator.pieceLength = 16 * 1024
        creator.creationDate = nil
        creator.isPrivate = isPrivate
        let torrent = try creator.create()
        var configuration = ClientConfiguration(host: "127.0.0.100")
        configuration.usesTrackers = false
        let seed = try await Client(configuration: configuration)
        let seedHandle = try await seed.addTorrent(torrent, downloadDirectory: folder)
        // Slow leechers, so every connection stays up (a finished leecher and the seed would part).
        configuration.downloadLimit = .bytesPerSecond(8 * 1024, burst: 8 * 1024)
        configuration.host = "127.0.0.101"
        let first = try await Client(configuration: configuration)
        let firstHandle = try await first.addTorrent(torrent, downloadDirectory: folder + "/first")
        try await first.connect(host: "127.0.0.100", port: seed.port, for: firstHandle)
        #expect(await ClientFixtures.eventually { await first.peers(of: firstHandle).contains { $0.isActive } })
        configuration.host = "127.0.0.102"
        let second = try await Client(configuration: configuration)
        let secondHandle = try await second.addTorrent(torrent, downloadDirectory: folder + "/second")
        try await second.connect(host: "127.0.0.101", port: first.port, for: secondHandle)
        // Until the second leecher and the seed are connected (a count of connections would be fooled by a
        // short-lived duplicate between the two leechers, which PEX also introduces to each other).
        _ = await ClientFixtures.eventually(limit: .seconds(isPrivate ? 5 : 30)) {
            await second.peers(of: secondHandle).contains {
                $0.isActive && "\($0.endpoint.address)" == "127.0.0.100"
            }
        }
        // How each side of the seed <-> second leecher link learnt of the other (every connection seen: both
        // sides may dial at once, and the duplicate is closed), and the second's link to the first leecher.
        var sources: [String: Set<PeerSource>] = [:]
        for peer in await second.peers(of: secondHandle) where peer.isActive {
            sources["second->\(peer.endpoint.address)", default: []].insert(peer.source)
        }
        for peer in await seed.peers(of: seedHandle) where "\(peer.endpoint.address)" == "127.0.0.102" {
            sources["seed->127.0.0.102", default: []].insert(peer.source)
        }
        return (sources, [second, first, seed])
    }

    @Test func aPeerLearntThroughPEXIsDialled() async throws {
        let (sources, clients) = try await Self.swarm(isPrivate: false)
        // No tracker, no DHT, nobody told the seed and the second leecher of each other: only PEX can link them.
        // The link the user made (the first leecher, having learnt the second's port, may dial it too; the
        // duplicate resolution then keeps either connection: seen once under load as `incoming` only).
        #expect(
            sources["second->127.0.0.101"].map { !$0.isDisjoint(with: [.user, .incoming]) } == true, "\(sources)")
        #expect(sources["second->127.0.0.100"] != nil, "the second leecher never reached the seed: \(sources)")
        #expect(
            sources["second->127.0.0.100"]?.contains(.pex) == true
                || sources["seed->127.0.0.102"]?.contains(.pex) == true,
            "\(sources)")
        for client in clients { await client.shutdown() }
    }

    @Test func aPrivateTorrentExchangesNoPeers() async throws {
        let (sources, clients) = try await Self.swarm(isPrivate: true)
        #expect(sources == ["second->127.0.0.101": [.user]], "\(sources)")
        for client in clients { await client.shutdown() }
    }
}
