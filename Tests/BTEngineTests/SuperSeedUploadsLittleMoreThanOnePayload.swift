import BTMetainfo
import Foundation
import Testing

@testable import BTEngine

/// Super-seeding (BEP 16) measured with real ``Client``s on 127.0.0.1: one seed and twenty leechers that all
/// know each other. Before every leecher completes, a super-seed uploads little more than one copy of the
/// payload (the issue's goal: at most 1.2×), where a normal seed in the same run uploads several copies.
@Suite(.serialized) struct SuperSeedUploadsLittleMoreThanOnePayload {
    /// What one swarm run measured.
    struct Figures {
        var uploaded: Int64
        var payload: Int64
        var seconds: Double
        var completed: Int
        var ratio: Double { Double(uploaded) / Double(payload) }
    }

    /// Runs a seed (super-seeding or not) and `leechers` leechers meshed together until every leecher completes
    /// (or the safety bound passes); returns what the seed uploaded by then.
    static func swarm(superSeeding: Bool, leechers count: Int = 20) async throws -> Figures {
        let root = try ClientFixtures.temporaryFolder(superSeeding ? "superseed" : "seed")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let seedFolder = "\(root)/seed"
        try ClientFixtures.writePayload([("swarm.bin", 4 * 1024 * 1024)], in: "\(seedFolder)/payload", seed: 16)
        var creator = TorrentCreator(path: "\(seedFolder)/payload")
        creator.version = .v1
        creator.pieceLength = 32 * 1024
        creator.creationDate = nil
        let torrent = try creator.create()

        // Each client on its own address, as in a real swarm: on one address the per-address connection limit
        // (4) would let the seed see only four leechers and the leechers only a few of each other.
        let lane = superSeeding ? 31 : 32
        let seed = try await Client(configuration: ClientConfiguration(host: "127.0.\(lane).1", ports: [0]))
        let seeding = try await seed.addTorrent(
            torrent, downloadDirectory: seedFolder, limits: TorrentLimits(superSeeding: superSeeding))
        var leechers: [(Client, TorrentHandle)] = []
        for index in 0..<count {
            let host = "127.0.\(lane).\(10 + index)"
            let client = try await Client(configuration: ClientConfiguration(host: host, ports: [0]))
            let handle = try await client.addTorrent(torrent, downloadDirectory: "\(root)/leecher\(index)")
            for (other, _) in leechers { try await client.connect(host: other.host, port: other.port, for: handle) }
            leechers.append((client, handle))
        }
        let start = ContinuousClock.now
        for (client, handle) in leechers { try await client.connect(host: seed.host, port: seed.port, for: handle) }

        var completed = 0
        var uploaded: Int64 = 0
        while ContinuousClock.now - start < .seconds(240) {
            // Uploads are sampled before completion is: the figure never includes bytes sent after the end.
            uploaded = await seed.status(of: seeding)?.uploadedBytes ?? 0
            completed = 0
            for (client, handle) in leechers {
                if await client.status(of: handle)?.isComplete == true { completed += 1 }
            }
            if completed == count { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let seconds = Double((ContinuousClock.now - start).components.seconds)
        for (client, _) in leechers { await client.shutdown() }
        await seed.shutdown()
        return Figures(uploaded: uploaded, payload: torrent.totalSize, seconds: seconds, completed: completed)
    }

    @Test func superSeedUploadsAtMostAFifthMoreThanThePayloadWhereANormalSeedUploadsSeveralCopies() async throws {
        let superSeed = try await Self.swarm(superSeeding: true)
        let normal = try await Self.swarm(superSeeding: false)
        print(
            "super-seeding: 20 leechers complete after the seed uploaded \(superSeed.uploaded) B = "
                + "\(String(format: "%.2f", superSeed.ratio))× the payload in \(superSeed.seconds) s; normal seeding: "
                + "\(normal.uploaded) B = \(String(format: "%.2f", normal.ratio))× in \(normal.seconds) s")
        #expect(superSeed.completed == 20)
        #expect(normal.completed == 20)
        #expect(superSeed.ratio <= 1.2)
        #expect(normal.ratio > superSeed.ratio)
    }
}
