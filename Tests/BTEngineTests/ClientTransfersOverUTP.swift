import BTMetainfo
import BTUTP
import BTWire
import Foundation
import NBTTestSupport
import NIOCore
import NIOPosix
import Testing

@testable import BTEngine

/// The engine over uTP, unchanged: two ``Client``s whose transport is ``UTPTransport`` (UDP sockets on 127.0.0.1
/// inside a private, loopback-only network namespace) transfer a torrent byte-identically and report their peer
/// as uTP.
@Suite(.serialized) struct ClientTransfersOverUTP {
    /// Hands out sockets made beforehand inside one namespace, as ``UTPTransport/SocketFactory``.
    final class SocketPool: @unchecked Sendable {
        private let lock = NSLock()
        private var sockets: [CInt]

        init(_ sockets: [CInt]) { self.sockets = sockets }

        func next() throws -> NIOBSDSocket.Handle {
            try lock.withLock {
                guard !sockets.isEmpty else { throw ChannelError.unknownLocalAddress }
                return sockets.removeFirst()
            }
        }
    }

    static func namespacedSockets(_ count: Int) -> SocketPool? {
        switch LoopbackNamespace.udpSockets(count: count) {
        case .success(let (fds, _)): return SocketPool(fds)
        case .failure(let failure):
            Issue.record("no loopback namespace: \(failure)")
            return nil
        }
    }

    /// The peers of `handle` as soon as there is one (polled for at most 10 s): a finished leecher and its seed
    /// part, so the status is read during the transfer.
    static func peersDuringTransfer(_ client: Client, _ handle: TorrentHandle) async -> [PeerStatus] {
        let start = ContinuousClock.now
        while ContinuousClock.now - start < .seconds(10) {
            let peers = await client.peers(of: handle)
            if !peers.isEmpty { return peers }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return []
    }

    @Test(.timeLimit(.minutes(2)))
    func twoClientsTransferATorrentOverUTPAndReportIt() async throws {
        guard let pool = Self.namespacedSockets(4) else { return }
        let seedFolder = try ClientFixtures.temporaryFolder("utp-seed")
        let leechFolder = try ClientFixtures.temporaryFolder("utp-leech")
        defer {
            try? FileManager.default.removeItem(atPath: seedFolder)
            try? FileManager.default.removeItem(atPath: leechFolder)
        }
        let torrent = try ClientFixtures.makeTorrent(in: seedFolder)
        var configuration = ClientConfiguration(host: "127.0.0.1", ports: [0])
        configuration.usesTrackers = false
        configuration.transport = UTPTransport(socketFactory: { _, _ in try pool.next() })
        let seeder = try await Client(configuration: configuration)
        let leecher = try await Client(configuration: configuration)
        #expect(seeder.port != leecher.port)
        try await seeder.addTorrent(torrent, downloadDirectory: seedFolder)
        let downloading = try await leecher.addTorrent(torrent, downloadDirectory: leechFolder)
        let started = ContinuousClock.now
        try await leecher.connect(host: "127.0.0.1", port: seeder.port, for: downloading)
        let peers = await Self.peersDuringTransfer(leecher, downloading)
        let done = try #require(await ClientFixtures.waitForCompletion(leecher, downloading))
        let elapsed = ContinuousClock.now - started
        #expect(done.isComplete)
        #expect(peers.count == 1)
        #expect(peers.allSatisfy { $0.transport == .utp })
        #expect(peers.first?.description.contains(" utp") == true, "\(peers.first?.description ?? "no peer")")
        print("engine over uTP: \(ClientFixtures.files.map(\.1).reduce(0, +)) bytes in \(elapsed)")
        await leecher.shutdown()
        await seeder.shutdown()
        #expect(ClientFixtures.identical(seedFolder, leechFolder))
    }
}
