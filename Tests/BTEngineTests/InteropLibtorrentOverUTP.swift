import BTMetainfo
import BTWire
import Foundation
import NBTTestSupport
import NIOCore
import Testing

@testable import BTEngine

#if canImport(Glibc)
    import Glibc
#endif

/// Interop with libtorrent-rasterbar over uTP only (python3-libtorrent with `enable_outgoing_tcp` and
/// `enable_incoming_tcp` off, driven by `Fixtures/lt_utp_peer.py`), both in one private, loopback-only network
/// namespace: libtorrent seeds and our ``Client`` over ``UTPTransport`` downloads, then we seed and libtorrent
/// downloads, verifying every piece. Both directions end with byte-identical files. The libtorrent process is
/// bounded (it exits after 90 s) and killed by its PID when the test ends. Skipped when libtorrent is missing,
/// unless NBT_REQUIRE_INTEROP=1.
@Suite(.serialized) struct InteropLibtorrentOverUTP {
    static let script = InteropLibtorrentTransfers.fixtures.appendingPathComponent("lt_utp_peer.py").path
    /// libtorrent's port and ours, inside the namespace (fresh: every port is free).
    static let libtorrentPort = 6881
    static let ourPort: UInt16 = 6890

    /// Starts libtorrent in a new namespace with `arguments`, and makes our sockets there (the first on
    /// ``ourPort``); returns them as a pool and the process id, or nil when there is no namespace.
    static func start(_ arguments: [String]) -> (ClientTransfersOverUTP.SocketPool, pid_t)? {
        let command = [InteropLibtorrentTransfers.python, script] + arguments
        switch LoopbackNamespace.udpSockets(count: 3, port: ourPort, starting: command) {
        case .success(let (fds, pid)): return (ClientTransfersOverUTP.SocketPool(fds), pid!)
        case .failure(let failure):
            Issue.record("no loopback namespace: \(failure)")
            return nil
        }
    }

    static func stop(_ pid: pid_t) {
        kill(pid, SIGKILL)
        var status: CInt = 0
        waitpid(pid, &status, 0)
    }

    /// The JSON object libtorrent wrote to `path`, waiting for it at most `limit`.
    static func result(at path: String, limit: Duration = .seconds(80)) async -> [String: Any]? {
        let start = ContinuousClock.now
        while ContinuousClock.now - start < limit {
            if let data = FileManager.default.contents(atPath: path),
                let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
            {
                return object
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return nil
    }

    static func configuration(_ pool: ClientTransfersOverUTP.SocketPool) -> ClientConfiguration {
        var configuration = ClientConfiguration(host: "127.0.0.1", ports: [Int(ourPort)])
        configuration.usesTrackers = false
        configuration.transport = UTPTransport(socketFactory: { _, _ in try pool.next() })
        return configuration
    }

    @Test(.timeLimit(.minutes(2)))
    func weDownloadFromALibtorrentSeedOverUTP() async throws {
        guard InteropLibtorrentTransfers.libtorrentAvailable() else { return }
        let seedFolder = try ClientFixtures.temporaryFolder("lt-utp-seed")
        let leechFolder = try ClientFixtures.temporaryFolder("nbt-utp-leech")
        defer {
            try? FileManager.default.removeItem(atPath: seedFolder)
            try? FileManager.default.removeItem(atPath: leechFolder)
        }
        let torrent = try ClientFixtures.makeTorrent(in: seedFolder)
        let torrentFile = try InteropLibtorrentTransfers.writeTorrentFile(torrent, in: seedFolder)
        let result = "\(seedFolder)/result.json"
        guard let (pool, pid) = Self.start(["seed", torrentFile, seedFolder, "\(Self.libtorrentPort)", result])
        else { return }
        defer { Self.stop(pid) }
        let seeding = await Self.result(at: result)
        #expect(seeding?["seeding"] as? Bool == true, "libtorrent: \(String(describing: seeding))")

        let client = try await Client(configuration: Self.configuration(pool))
        let handle = try await client.addTorrent(torrent, downloadDirectory: leechFolder)
        let start = ContinuousClock.now
        try await client.connect(host: "127.0.0.1", port: Self.libtorrentPort, for: handle)
        let peers = await ClientTransfersOverUTP.peersDuringTransfer(client, handle)
        let status = await ClientFixtures.waitForCompletion(client, handle, limit: .seconds(80))
        let elapsed = ContinuousClock.now - start
        await client.shutdown()
        #expect(status?.isComplete == true, "status: \(String(describing: status))")
        #expect(!peers.isEmpty && peers.allSatisfy { $0.transport == .utp })
        #expect(ClientFixtures.identical(seedFolder, leechFolder))
        print("libtorrent -> nbt over uTP: \(torrent.totalSize) bytes in \(elapsed)")
    }

    @Test(.timeLimit(.minutes(2)))
    func libtorrentDownloadsFromUsOverUTP() async throws {
        guard InteropLibtorrentTransfers.libtorrentAvailable() else { return }
        let seedFolder = try ClientFixtures.temporaryFolder("nbt-utp-seed")
        let leechFolder = try ClientFixtures.temporaryFolder("lt-utp-leech")
        defer {
            try? FileManager.default.removeItem(atPath: seedFolder)
            try? FileManager.default.removeItem(atPath: leechFolder)
        }
        let torrent = try ClientFixtures.makeTorrent(in: seedFolder)
        let torrentFile = try InteropLibtorrentTransfers.writeTorrentFile(torrent, in: seedFolder)
        let result = "\(leechFolder)/result.json"
        guard
            let (pool, pid) = Self.start([
                "download", torrentFile, leechFolder, "\(Self.libtorrentPort)", result, "\(Self.ourPort)",
            ])
        else { return }
        defer { Self.stop(pid) }
        let client = try await Client(configuration: Self.configuration(pool))
        #expect(client.port == Int(Self.ourPort))
        let handle = try await client.addTorrent(torrent, downloadDirectory: seedFolder)
        #expect(await client.status(of: handle)?.isComplete == true)
        let facts = await Self.result(at: result)
        let uploaded = await client.status(of: handle)?.uploadedBytes ?? 0
        await client.shutdown()
        #expect(facts?["done"] as? Bool == true, "libtorrent: \(String(describing: facts))")
        #expect(uploaded >= torrent.totalSize)
        #expect(ClientFixtures.identical(seedFolder, leechFolder))
        print("nbt -> libtorrent over uTP: \(torrent.totalSize) bytes; \(String(describing: facts))")
    }
}
