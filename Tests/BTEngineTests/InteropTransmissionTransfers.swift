import BTMetainfo
import Foundation
import Testing

@testable import BTEngine

/// Interop with Transmission 3.00 (`transmission-cli`, an independent C implementation) on loopback, TCP
/// only, no tracker. Transmission never dials loopback peers, so we dial it in both directions: it seeds
/// and we download, then we seed and it downloads. Each run uses a fresh config folder (`-g`) and its own
/// 127.0.0.x. Transmission 3.00 does not create zero-length files, so that direction compares the
/// non-empty files. Skipped when `transmission-cli` is missing, unless NBT_REQUIRE_INTEROP=1.
@Suite(.serialized) struct InteropTransmissionTransfers {
    static func available() -> Bool {
        let present = FileManager.default.isExecutableFile(atPath: "/usr/bin/transmission-cli")
        if !present && InteropLibtorrentTransfers.required { Issue.record("transmission-cli is missing") }
        return present
    }

    static func transmission(torrent: String, folder: String, config: String, address: String, port: Int) throws
        -> InteropProcess
    {
        let settings = """
            {"dht-enabled": false, "lpd-enabled": false, "utp-enabled": false, "pex-enabled": false,
             "port-forwarding-enabled": false, "bind-address-ipv4": "\(address)", "peer-port": \(port),
             "encryption": 0, "rpc-enabled": false, "rename-partial-files": false,
             "incomplete-dir-enabled": false, "download-dir": "\(folder)", "speed-limit-down-enabled": false,
             "speed-limit-up-enabled": false}
            """
        try FileManager.default.createDirectory(atPath: config, withIntermediateDirectories: true)
        try Data(settings.utf8).write(to: URL(fileURLWithPath: "\(config)/settings.json"))
        return try InteropProcess(
            ["/usr/bin/transmission-cli", "-g", config, "-w", folder, "-p", String(port), "-M", "-et", torrent],
            seconds: 150)
    }

    /// A fresh loopback address, so Transmission does not remember earlier runs' peers.
    static func freshAddress() -> String { "127.0.\(Int.random(in: 10...250)).\(Int.random(in: 2...250))" }

    static func nonEmptyFilesIdentical(_ a: String, _ b: String) -> Bool {
        ClientFixtures.files.filter { $0.1 > 0 }.allSatisfy { path, _ in
            let first = FileManager.default.contents(atPath: "\(a)/payload/\(path)")
            return first != nil && first == FileManager.default.contents(atPath: "\(b)/payload/\(path)")
        }
    }

    @Test func weDownloadFromATransmissionSeed() async throws {
        guard Self.available() else { return }
        let seedFolder = try ClientFixtures.temporaryFolder("tr-seed")
        let leechFolder = try ClientFixtures.temporaryFolder("nbt-leech")
        defer {
            try? FileManager.default.removeItem(atPath: seedFolder)
            try? FileManager.default.removeItem(atPath: leechFolder)
        }
        let torrent = try ClientFixtures.makeTorrent(in: seedFolder)
        let torrentFile = try InteropLibtorrentTransfers.writeTorrentFile(torrent, in: seedFolder)
        let address = Self.freshAddress()
        let port = Int.random(in: 20_000...60_000)
        let peer = try Self.transmission(
            torrent: torrentFile, folder: seedFolder, config: "\(seedFolder)/tr-config", address: address, port: port)
        defer { peer.stop() }
        let client = try await Client(configuration: ClientConfiguration(host: Self.freshAddress(), ports: [0]))
        let handle = try await client.addTorrent(torrent, downloadDirectory: leechFolder)
        let start = ContinuousClock.now
        let status = await InteropAria2Transfers.dialUntilComplete(client, handle, host: address, port: port)
        print("transmission -> nbt: \(torrent.totalSize) bytes in \(ContinuousClock.now - start) (including start-up)")
        await client.shutdown()
        #expect(status?.isComplete == true, "status: \(String(describing: status))")
        #expect(ClientFixtures.identical(seedFolder, leechFolder))
    }

    @Test func transmissionDownloadsFromUs() async throws {
        guard Self.available() else { return }
        let seedFolder = try ClientFixtures.temporaryFolder("nbt-seed")
        let leechFolder = try ClientFixtures.temporaryFolder("tr-leech")
        defer {
            try? FileManager.default.removeItem(atPath: seedFolder)
            try? FileManager.default.removeItem(atPath: leechFolder)
        }
        let torrent = try ClientFixtures.makeTorrent(in: seedFolder)
        let torrentFile = try InteropLibtorrentTransfers.writeTorrentFile(torrent, in: seedFolder)
        let client = try await Client(configuration: ClientConfiguration(host: Self.freshAddress(), ports: [0]))
        let handle = try await client.addTorrent(torrent, downloadDirectory: seedFolder)
        let address = Self.freshAddress()
        let port = Int.random(in: 20_000...60_000)
        let peer = try Self.transmission(
            torrent: torrentFile, folder: leechFolder, config: "\(leechFolder)/tr-config", address: address, port: port)
        defer { peer.stop() }
        let start = ContinuousClock.now
        var lastDial = start - .seconds(10)
        var done = false
        while peer.process.isRunning && ContinuousClock.now - start < .seconds(120) {
            if Self.nonEmptyFilesIdentical(seedFolder, leechFolder) {
                done = true
                break
            }
            let peers = await client.status(of: handle)?.peers ?? 0
            if peers == 0 && ContinuousClock.now - lastDial > .seconds(2) {
                lastDial = ContinuousClock.now
                try? await client.connect(host: address, port: port, for: handle)
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
        print("nbt -> transmission: \(torrent.totalSize) bytes in \(ContinuousClock.now - start) (including start-up)")
        let uploaded = await client.status(of: handle)?.uploadedBytes ?? 0
        await client.shutdown()
        #expect(done)
        #expect(uploaded >= torrent.totalSize)
    }
}
