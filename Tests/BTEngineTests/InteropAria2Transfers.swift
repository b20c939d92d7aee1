import BTMetainfo
import Foundation
import Testing

@testable import BTEngine

/// Interop with aria2 (an independent implementation) on loopback, TCP only, no tracker: aria2 listens on
/// its own 127.0.0.x and we dial it, once with aria2 seeding (we download) and once with aria2 leeching (we
/// seed). Files must end byte-identical. Skipped when `aria2c` is missing, unless NBT_REQUIRE_INTEROP=1.
@Suite(.serialized) struct InteropAria2Transfers {
    static func aria2Available() -> Bool {
        let present = FileManager.default.isExecutableFile(atPath: "/usr/bin/aria2c")
        if !present && InteropLibtorrentTransfers.required { Issue.record("aria2c is missing") }
        return present
    }

    static func aria2(_ mode: String, torrent: String, folder: String, address: String, port: Int) throws
        -> InteropProcess
    {
        var arguments = [
            "/usr/bin/aria2c", "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
            "--enable-peer-exchange=false", "--disable-ipv6=true", "--listen-port=\(port)",
            "--bt-external-ip=\(address)", "--interface=\(address)", "--dir=\(folder)", "--console-log-level=warn",
            "--summary-interval=0", "--file-allocation=none", "--bt-stop-timeout=100", "--check-integrity=true",
        ]
        if mode == "seed" {
            arguments += ["--seed-ratio=0.0", "--bt-seed-unverified=false"]
        } else {
            arguments += ["--seed-time=0"]
        }
        arguments.append(torrent)
        return try InteropProcess(arguments, seconds: 150)
    }

    /// Dials `host:port` until a peer is connected or the download completes (aria2 needs a moment to
    /// listen), then waits for completion.
    static func dialUntilComplete(_ client: Client, _ handle: TorrentHandle, host: String, port: Int) async
        -> TorrentStatus?
    {
        let start = ContinuousClock.now
        var lastDial = start - .seconds(10)
        while ContinuousClock.now - start < .seconds(120) {
            guard let status = await client.status(of: handle) else { return nil }
            if status.isComplete { return status }
            if status.peers == 0 && ContinuousClock.now - lastDial > .seconds(2) {
                lastDial = ContinuousClock.now
                try? await client.connect(host: host, port: port, for: handle)
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return await client.status(of: handle)
    }

    @Test func weDownloadFromAnAria2Seed() async throws {
        guard Self.aria2Available() else { return }
        let seedFolder = try ClientFixtures.temporaryFolder("aria2-seed")
        let leechFolder = try ClientFixtures.temporaryFolder("nbt-leech")
        defer {
            try? FileManager.default.removeItem(atPath: seedFolder)
            try? FileManager.default.removeItem(atPath: leechFolder)
        }
        let torrent = try ClientFixtures.makeTorrent(in: seedFolder)
        let torrentFile = try InteropLibtorrentTransfers.writeTorrentFile(torrent, in: seedFolder)
        let port = Int.random(in: 20_000...60_000)
        let peer = try Self.aria2("seed", torrent: torrentFile, folder: seedFolder, address: "127.0.0.6", port: port)
        defer { peer.stop() }
        let client = try await Client(configuration: ClientConfiguration(host: "127.0.0.7", ports: [0]))
        let handle = try await client.addTorrent(torrent, downloadDirectory: leechFolder)
        let start = ContinuousClock.now
        let status = await Self.dialUntilComplete(client, handle, host: "127.0.0.6", port: port)
        print("aria2 -> nbt: \(torrent.totalSize) bytes in \(ContinuousClock.now - start) (including aria2's start-up)")
        await client.shutdown()
        #expect(status?.isComplete == true, "status: \(String(describing: status))")
        #expect(ClientFixtures.identical(seedFolder, leechFolder))
    }

    @Test func aria2DownloadsFromUs() async throws {
        guard Self.aria2Available() else { return }
        let seedFolder = try ClientFixtures.temporaryFolder("nbt-seed")
        let leechFolder = try ClientFixtures.temporaryFolder("aria2-leech")
        defer {
            try? FileManager.default.removeItem(atPath: seedFolder)
            try? FileManager.default.removeItem(atPath: leechFolder)
        }
        let torrent = try ClientFixtures.makeTorrent(in: seedFolder)
        let torrentFile = try InteropLibtorrentTransfers.writeTorrentFile(torrent, in: seedFolder)
        let client = try await Client(configuration: ClientConfiguration(host: "127.0.0.8", ports: [0]))
        let handle = try await client.addTorrent(torrent, downloadDirectory: seedFolder)
        let port = Int.random(in: 20_000...60_000)
        let peer = try Self.aria2(
            "download", torrent: torrentFile, folder: leechFolder, address: "127.0.0.9", port: port)
        defer { peer.stop() }
        // We are the seed: keep dialling aria2 until it has everything (it exits when complete).
        let start = ContinuousClock.now
        var lastDial = start - .seconds(10)
        while peer.process.isRunning && ContinuousClock.now - start < .seconds(120) {
            let peers = await client.status(of: handle)?.peers ?? 0
            if peers == 0 && ContinuousClock.now - lastDial > .seconds(2) {
                lastDial = ContinuousClock.now
                try? await client.connect(host: "127.0.0.9", port: port, for: handle)
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
        let uploaded = await client.status(of: handle)?.uploadedBytes ?? 0
        print("nbt -> aria2: \(torrent.totalSize) bytes in \(ContinuousClock.now - start) (including aria2's start-up)")
        await client.shutdown()
        #expect(!peer.process.isRunning && peer.process.terminationStatus == 0)
        #expect(uploaded >= torrent.totalSize)
        #expect(ClientFixtures.identical(seedFolder, leechFolder))
    }
}
