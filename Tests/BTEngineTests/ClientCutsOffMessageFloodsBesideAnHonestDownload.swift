import BTMetainfo
import Foundation
import Testing

@testable import BTEngine

/// Issue 12, over real sockets on loopback: a peer flooding redundant `have`s, one repeating its
/// availability over and over, and one sending garbage after its handshake are each disconnected with the documented
/// reason, while an honest peer beside them downloads the whole torrent from the same seed.
@Suite(.serialized) struct ClientCutsOffMessageFloodsBesideAnHonestDownload {
    /// `have` of `piece`, `count` times.
    static func haves(_ piece: UInt8, count: Int) -> [UInt8] {
        ([0, 0, 0, 5, 4, 0, 0, 0, piece] as [UInt8]).repeated(count)
    }

    @Test func floodersAreDisconnectedAndAnHonestPeerCompletes() async throws {
        let folder = try ClientFixtures.temporaryFolder("floods")
        let leechFolder = try ClientFixtures.temporaryFolder("floods-leech")
        defer {
            for path in [folder, leechFolder] { try? FileManager.default.removeItem(atPath: path) }
        }
        let torrent = try ClientFixtures.makeTorrent(in: folder)
        var configuration = ClientConfiguration(host: "127.0.0.70")
        configuration.usesTrackers = false
        configuration.reportsPacketEvents = false
        let seed = try await Client(configuration: configuration)
        let reasons = Recorder<String>()
        seed.events.on(.peerDisconnect) { event in
            if case .peerDisconnect(let peer, let reason) = event {
                reasons.append("\(peer.endpoint.address) \(reason.name)")
            }
        }
        let handle = try await seed.addTorrent(torrent, downloadDirectory: folder)

        // Redundant haves: the first `have` of piece 0 is news, the 65 after it a flood.
        let haver = RawPeer(infoHash: handle.wireInfoHash, requests: [], stopsReading: false, fast: true)
        try await haver.connect(host: "127.0.0.70", port: seed.port, from: "127.0.71.1")
        try await haver.send(Self.haves(0, count: 200))
        // Availability again and again: `have none` 50 times (8 per 10 s are tolerated).
        let repeater = RawPeer(infoHash: handle.wireInfoHash, requests: [], stopsReading: false, fast: true)
        try await repeater.connect(host: "127.0.0.70", port: seed.port, from: "127.0.71.2")
        try await repeater.send(([0, 0, 0, 1, 0x0F] as [UInt8]).repeated(50))
        // Garbage after the handshake: a length prefix far beyond any message.
        let garbler = RawPeer(infoHash: handle.wireInfoHash, requests: [], stopsReading: false, fast: true)
        try await garbler.connect(host: "127.0.0.70", port: seed.port, from: "127.0.71.3")
        try await garbler.send([0xde, 0xad, 0xbe, 0xef] + Array(repeating: 0x41, count: 4096))

        var honestConfiguration = ClientConfiguration(host: "127.0.0.72")
        honestConfiguration.usesTrackers = false
        let honest = try await Client(configuration: honestConfiguration)
        let download = try await honest.addTorrent(torrent, downloadDirectory: leechFolder)
        try await honest.connect(host: "127.0.0.70", port: seed.port, for: download)
        let status = await ClientFixtures.waitForCompletion(honest, download, limit: .seconds(60))
        #expect(status?.isComplete == true)

        #expect(
            await ClientFixtures.eventually(limit: .seconds(20)) {
                haver.isClosed && repeater.isClosed && garbler.isClosed
            })
        let seen = reasons.values
        #expect(seen.contains("127.0.71.1 protocolViolation"), "\(seen)")
        #expect(seen.contains("127.0.71.2 protocolViolation"), "\(seen)")
        #expect(seen.contains("127.0.71.3 malformedPacket"), "\(seen)")
        // The honest peer leaves only once both sides are seeds.
        #expect(
            seen.filter { $0.hasPrefix("127.0.0.72") }.allSatisfy { $0.hasSuffix("bothSeeds") },
            "the honest peer was not cut off: \(seen)")
        for peer in [haver, repeater, garbler] { await peer.close() }
        await honest.shutdown()
        await seed.shutdown()
    }
}

extension Array {
    /// The array repeated `count` times.
    fileprivate func repeated(_ count: Int) -> [Element] {
        Array((0..<count).map { _ in self }.joined())
    }
}
