import BTMetainfo
import BTStorage
import Foundation
import Testing

@testable import BTEngine

/// A disk slower than the network must slow the download, not fill memory: blocks received and not yet
/// written stay bounded by the pending-write cap plus what was already requested.
@Suite(.serialized) struct ClientBoundsBlocksWaitingForADisk {
    @Test func aSlowDiskHoldsRequestsBackAndTheDownloadStillCompletes() async throws {
        let seedFolder = try ClientFixtures.temporaryFolder("slowdisk-seed")
        let leechFolder = try ClientFixtures.temporaryFolder("slowdisk-leech")
        defer {
            try? FileManager.default.removeItem(atPath: seedFolder)
            try? FileManager.default.removeItem(atPath: leechFolder)
        }
        let length = 16 * 1024 * 1024
        let torrent = try ClientFixtures.makeSingleFileTorrent(
            in: seedFolder, name: "big.bin", length: length, pieceLength: 256 * 1024)
        var configuration = ClientConfiguration(host: "127.0.0.1", ports: [0])
        configuration.usesTrackers = false
        configuration.reportsPacketEvents = false
        configuration.workerPool = WorkerPool(width: 2)  // the seed's reads do not queue behind the slow disk
        let seeder = try await Client(configuration: configuration)
        let cap = 256 * 1024
        configuration.maximumPendingWriteBytesPerTorrent = cap
        configuration.makeStorage = { torrent, folder, events in
            SlowStorage(FileStorage(torrent: torrent, folder: folder, events: events), delay: 0.01)
        }
        configuration.workerPool = WorkerPool(width: 2)
        let leecher = try await Client(configuration: configuration)
        try await seeder.addTorrent(torrent, downloadDirectory: seedFolder)
        let downloading = try await leecher.addTorrent(torrent, downloadDirectory: leechFolder)
        try await leecher.connect(host: "127.0.0.1", port: seeder.port, for: downloading)
        let done = try #require(await ClientFixtures.waitForCompletion(leecher, downloading, limit: .seconds(300)))
        #expect(done.isComplete)
        #expect(done.pendingWriteBytes == 0)
        let peak = try await leecher.onLoop { core in core.session(downloading)?.peakPendingWriteBytes ?? -1 }
        // Requests stop at the cap; what one peer already had in flight (at most 250 blocks) still lands.
        let bound = cap + 250 * 16 * 1024
        #expect(peak > 0 && peak <= bound, "peak \(peak) bytes waiting for the disk, bound \(bound)")
        await leecher.shutdown()
        await seeder.shutdown()
        #expect(
            FileManager.default.contents(atPath: "\(seedFolder)/big.bin")
                == FileManager.default.contents(atPath: "\(leechFolder)/big.bin"))
    }
}

/// A ``Storage`` that sleeps before every write: a disk much slower than the loopback network.
final class SlowStorage: Storage, @unchecked Sendable {
    private let base: any Storage
    private let delay: TimeInterval

    init(_ base: any Storage, delay: TimeInterval) {
        self.base = base
        self.delay = delay
    }

    var layout: PieceLayout { base.layout }
    func path(ofFile index: Int) -> [String] { base.path(ofFile: index) }
    func read(file: Int, offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try base.read(file: file, offset: offset, into: buffer)
    }
    func write(file: Int, offset: Int64, from buffer: UnsafeRawBufferPointer) throws {
        Thread.sleep(forTimeInterval: delay)
        try base.write(file: file, offset: offset, from: buffer)
    }
    func status(ofFile file: Int) throws -> FileStatus? { try base.status(ofFile: file) }
    func createFile(_ file: Int) throws { try base.createFile(file) }
    func synchronize() throws { try base.synchronize() }
    func closeFiles() { base.closeFiles() }
    func renameFile(_ file: Int, to path: [String]) throws { try base.renameFile(file, to: path) }
    func move(to folder: String) throws { try base.move(to: folder) }
    func removeData() throws { try base.removeData() }
}
