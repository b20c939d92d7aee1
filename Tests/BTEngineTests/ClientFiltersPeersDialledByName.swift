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

/// The IP filter can be replaced while the client runs: connections the new filter blocks are closed
/// (`ipFiltered`), and it decides every connection from then on.
@Suite(.serialized) struct ClientReplacesItsIPFilterWhileRunning {
    @Test func aNewFilterClosesBlockedPeersAndRefusesThemAfterwards() async throws {
        let folder = try ClientFixtures.temporaryFolder("filterlive")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let torrent = try ClientFixtures.makeSingleFileTorrent(
            in: folder, name: "live.bin", length: 256 * 1024, pieceLength: 64 * 1024)
        var configuration = ClientConfiguration(host: "127.0.0.90")
        configuration.usesTrackers = false
        let seeder = try await Client(configuration: configuration)
        let handle = try await seeder.addTorrent(torrent, downloadDirectory: folder)
        let reasons = Recorder<DisconnectReason>()
        seeder.events.on(.peerDisconnect) { event in
            if case .peerDisconnect(_, let reason) = event { reasons.append(reason) }
        }
        configuration.host = "127.0.0.91"
        // Slow, so the leecher is still downloading (not a seed) when the seeder dials it at the end.
        configuration.downloadLimit = .bytesPerSecond(8 * 1024, burst: 8 * 1024)
        let leecher = try await Client(configuration: configuration)
        let download = try await leecher.addTorrent(torrent, downloadDirectory: folder + "/empty")
        try await leecher.connect(host: "127.0.0.90", port: seeder.port, for: download)
        #expect(await ClientFixtures.eventually { await seeder.peers(of: handle).contains { $0.isActive } })

        let closed = await seeder.setIPFilter(IPFilter(blocking: [try IPRange(parsing: "127.0.0.91-127.0.0.91")]))
        #expect(closed == 1)
        #expect(await ClientFixtures.eventually { reasons.values.contains(.ipFiltered) })
        #expect(await ClientFixtures.eventually { await seeder.peers(of: handle).isEmpty })
        // The leecher redials; every attempt is refused before its handshake is read. (It must have seen its
        // connection close first: a connect to an address it is still connected to is a duplicate, and the
        // automatic redial of a peer that was connected waits a minute.)
        #expect(await ClientFixtures.eventually { await leecher.peers(of: download).isEmpty })
        try await leecher.connect(host: "127.0.0.90", port: seeder.port, for: download)
        #expect(await ClientFixtures.eventually { reasons.values.filter { $0 == .ipFiltered }.count >= 2 })
        #expect(await seeder.peers(of: handle).isEmpty)

        // Our own dials are filtered too.
        let dialsRefused = Recorder<Bool>()
        seeder.events.on(.ipFilter) { event in
            if case .ipFilter(let endpoint, let allowed) = event, "\(endpoint.address)" == "127.0.0.91" {
                dialsRefused.append(!allowed)
            }
        }
        try await seeder.connect(host: "127.0.0.91", port: leecher.port, for: handle)
        #expect(await ClientFixtures.eventually { dialsRefused.values.contains(true) })
        #expect(await seeder.peers(of: handle).isEmpty)

        // An empty filter again: the seeder's dial goes through.
        #expect(await seeder.setIPFilter(IPFilter()) == 0)
        try await seeder.connect(host: "127.0.0.91", port: leecher.port, for: handle)
        #expect(await ClientFixtures.eventually { await seeder.peers(of: handle).contains { $0.isActive } })
        await leecher.shutdown()
        await seeder.shutdown()
    }
}
