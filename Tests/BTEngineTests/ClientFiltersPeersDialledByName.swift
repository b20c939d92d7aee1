import BTMetainfo
import Foundation
import Testing

@testable import BTEngine

/// A peer given by host name is checked against the IP filter once the name has resolved and the
/// connection is made: a range covering 127.0.0.x refuses `localhost` (`ip_filter` not allowed, then
/// `peer_disconnect` with `ipFiltered`), and nothing is exchanged with it.
@Suite(.serialized) struct ClientFiltersPeersDialledByName {
    @Test func aFilteredRangeRefusesAPeerGivenAsLocalhost() async throws {
        let folder = try ClientFixtures.temporaryFolder("filtername")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let torrent = try ClientFixtures.makeSingleFileTorrent(
            in: folder, name: "filtered.bin", length: 256 * 1024, pieceLength: 64 * 1024)
        var configuration = ClientConfiguration(host: "127.0.0.1")
        configuration.usesTrackers = false
        let seeder = try await Client(configuration: configuration)
        try await seeder.addTorrent(torrent, downloadDirectory: folder)
        let seederConnects = Recorder<Int>()
        seeder.events.on(.peerConnect) { _ in seederConnects.append(1) }

        configuration.ipFilter = IPFilter(blocking: [try IPRange(parsing: "127.0.0.0-127.0.0.255")])
        let leecher = try await Client(configuration: configuration)
        let filtered = Recorder<ClientEvent>()
        leecher.events.onEvery { event in
            switch event {
            case .ipFilter, .peerDisconnect, .peerConnect: filtered.append(event)
            default: break
            }
        }
        let handle = try await leecher.addTorrent(torrent, downloadDirectory: folder + "/empty")
        try await leecher.connect(host: "localhost", port: seeder.port, for: handle)
        #expect(
            await ClientFixtures.eventually {
                filtered.values.contains { if case .peerDisconnect = $0 { true } else { false } }
            })
        let events = filtered.values
        #expect(
            events.contains(
                .ipFilter(PeerEndpoint(address: IPAddress("127.0.0.1")!, port: UInt16(seeder.port)), allowed: false)))
        #expect(
            events.contains { if case .peerDisconnect(_, let reason) = $0 { reason == .ipFiltered } else { false } })
        #expect(!events.contains { if case .peerConnect = $0 { true } else { false } })
        #expect(seederConnects.values.isEmpty)
        await leecher.shutdown()
        await seeder.shutdown()
    }
}
