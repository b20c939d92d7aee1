import BTMetainfo
import BTWire
import Foundation
import Testing

@testable import BTEngine

/// BEP 55 holepunch among our own clients: B takes no incoming connection (its filter refuses every
/// ephemeral source port, as a NAT drops unsolicited connections) but dials out. A learns B through PEX
/// from the seed R, fails to dial it, and asks R for a rendezvous; R tells both to connect, and B dials A.
/// B cannot have learnt A otherwise: R's and C's first PEX messages to B were sent before A came, and the
/// next ones are a minute away.
@Suite(.serialized) struct ClientsMeetThroughAHolepunchRelay {
    @Test func aPeerBehindANATIsReachedThroughARendezvous() async throws {
        let folder = try ClientFixtures.temporaryFolder("holepunch")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let torrent = try ClientFixtures.makeSingleFileTorrent(
            in: folder, name: "holepunch.bin", length: 512 * 1024, pieceLength: 16 * 1024)
        var configuration = ClientConfiguration(host: "127.0.0.120")
        configuration.usesTrackers = false
        let relay = try await Client(configuration: configuration)
        // Slow leechers, so that every connection stays up.
        configuration.downloadLimit = .bytesPerSecond(8 * 1024, burst: 8 * 1024)
        configuration.host = "127.0.0.121"
        let other = try await Client(configuration: configuration)
        configuration.host = "127.0.0.123"
        let dialler = try await Client(configuration: configuration)
        let listenPorts = Set([relay.port, other.port, dialler.port].map { UInt16($0) })
        configuration.host = "127.0.0.122"
        configuration.ipFilter = IPFilter(hook: { endpoint in listenPorts.contains(endpoint.port) })
        let natted = try await Client(configuration: configuration)
        let clients = [dialler, natted, other, relay]

        let relayHandle = try await relay.addTorrent(torrent, downloadDirectory: folder)
        let otherHandle = try await other.addTorrent(torrent, downloadDirectory: folder + "/other")
        try await other.connect(host: "127.0.0.120", port: relay.port, for: otherHandle)
        #expect(await ClientFixtures.eventually { await relay.peers(of: relayHandle).contains { $0.isActive } })
        let nattedHandle = try await natted.addTorrent(torrent, downloadDirectory: folder + "/natted")
        try await natted.connect(host: "127.0.0.120", port: relay.port, for: nattedHandle)
        // B meets C (through R's first PEX message to it); then the first PEX messages are all sent.
        #expect(
            await ClientFixtures.eventually(limit: .seconds(20)) {
                await natted.peers(of: nattedHandle).filter(\.isActive).count >= 2
            })
        try await Task.sleep(for: .seconds(2))

        let diallerHandle = try await dialler.addTorrent(torrent, downloadDirectory: folder + "/dialler")
        try await dialler.connect(host: "127.0.0.120", port: relay.port, for: diallerHandle)
        var fromNatted: PeerStatus?
        let met = await ClientFixtures.eventually(limit: .seconds(20)) {
            fromNatted = await dialler.peers(of: diallerHandle).first {
                $0.isActive && "\($0.endpoint.address)" == "127.0.0.122"
            }
            return fromNatted != nil
        }
        let nattedSide = await natted.peers(of: nattedHandle).first {
            $0.isActive && "\($0.endpoint.address)" == "127.0.0.123"
        }
        for client in clients { await client.shutdown() }
        #expect(met, "A never got a connection with B")
        // B dialled A (A's side is incoming): only the relay's `connect` told B where A listens.
        #expect(fromNatted?.isIncoming == true, "\(String(describing: fromNatted))")
        #expect(nattedSide?.isIncoming == false && nattedSide?.source == .pex, "\(String(describing: nattedSide))")
    }
}
