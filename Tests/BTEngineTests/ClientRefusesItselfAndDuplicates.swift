import BTMetainfo
import Foundation
import Testing

@testable import BTEngine

/// A client told to connect to its own listener ends that connection with reason `loopback`; a second
/// connection to a peer it is already connected to (the same peer under another name) ends with
/// `preexisting`.
@Suite(.serialized) struct ClientRefusesItselfAndDuplicates {
    static func reasons(of client: Client) -> Recorder<String> {
        let reasons = Recorder<String>()
        client.events.on(.peerDisconnect) { event in
            if case .peerDisconnect(_, let reason) = event { reasons.append(reason.name) }
        }
        return reasons
    }

    @Test func connectingToOurselvesEndsWithLoopback() async throws {
        let folder = try ClientFixtures.temporaryFolder("self")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let torrent = try ClientFixtures.makeSingleFileTorrent(
            in: folder, name: "self.bin", length: 256 * 1024, pieceLength: 64 * 1024)
        var configuration = ClientConfiguration(host: "127.0.0.1")
        configuration.usesTrackers = false
        let client = try await Client(configuration: configuration)
        let reasons = Self.reasons(of: client)
        let handle = try await client.addTorrent(torrent, downloadDirectory: folder)
        try await client.connect(host: "127.0.0.1", port: client.port, for: handle)
        #expect(await ClientFixtures.eventually { reasons.values.contains("loopback") })
        #expect(await ClientFixtures.eventually { await client.peers(of: handle).isEmpty })
        await client.shutdown()
    }

    @Test func aSecondConnectionToTheSamePeerEndsWithAlreadyConnected() async throws {
        let folder = try ClientFixtures.temporaryFolder("dup")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let torrent = try ClientFixtures.makeSingleFileTorrent(
            in: folder, name: "dup.bin", length: 256 * 1024, pieceLength: 64 * 1024)
        var configuration = ClientConfiguration(host: "127.0.0.1")
        configuration.usesTrackers = false
        let seeder = try await Client(configuration: configuration)
        let seederReasons = Self.reasons(of: seeder)
        try await seeder.addTorrent(torrent, downloadDirectory: folder)
        // Slow enough that the leecher cannot finish (and both ends become seeds) while the test runs.
        configuration.downloadLimit = .bytesPerSecond(16 * 1024, burst: 16 * 1024)
        let leecher = try await Client(configuration: configuration)
        let reasons = Self.reasons(of: leecher)
        let handle = try await leecher.addTorrent(torrent, downloadDirectory: folder + "/empty")
        try await leecher.connect(host: "127.0.0.1", port: seeder.port, for: handle)
        #expect(await ClientFixtures.eventually { await leecher.peers(of: handle).first?.phase == .connected })
        try await leecher.connect(host: "localhost", port: seeder.port, for: handle)
        #expect(
            await ClientFixtures.eventually { reasons.values.contains("preexisting") },
            "\(reasons.values) \(seederReasons.values)")
        #expect(await leecher.peers(of: handle).count == 1)
        await leecher.shutdown()
        await seeder.shutdown()
    }
}
