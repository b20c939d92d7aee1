import BTMetainfo
import Foundation
import Testing

@testable import BTEngine

/// A request the peer cancels before its block is read is not read: it leaves the queue of reads waiting
/// for upload tokens (under a rate limit) or for the peer's socket (back-pressure), and, with the fast
/// extension, is answered with the one `reject` BEP 6 asks for; every request gets exactly one answer.
@Suite(.serialized) struct ClientDropsCancelledUploads {
    static let block = 16 * 1024

    /// Rejects and pieces (ids 16 and 7) the peer received.
    static func answers(_ peer: RawPeer) -> (pieces: Int, rejects: Int) {
        let ids = peer.receivedIDs
        return (ids.filter { $0 == 7 }.count, ids.filter { $0 == 16 }.count)
    }

    @Test func cancelledRequestsWaitingForUploadTokensAreDroppedAndRejected() async throws {
        let folder = try ClientFixtures.temporaryFolder("cancel-limited")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let torrent = try ClientFixtures.makeSingleFileTorrent(
            in: folder, name: "data.bin", length: 8 * Self.block, pieceLength: Self.block)
        var configuration = ClientConfiguration(host: "127.0.0.1", ports: [0])
        configuration.usesTrackers = false
        let seed = try await Client(configuration: configuration)
        // 16 KiB/s: the first block goes out at once, the others wait for tokens for seconds.
        let limits = TorrentLimits(uploadLimit: .bytesPerSecond(Self.block, burst: Self.block))
        let handle = try await seed.addTorrent(torrent, downloadDirectory: folder, limits: limits)
        let requests = (0..<8).map { ($0, 0, Self.block) }
        let peer = RawPeer(
            infoHash: handle.wireInfoHash, requests: requests, stopsReading: false,
            cancels: Array(requests.dropFirst()), fast: true)
        try await peer.connect(port: seed.port)
        #expect(await ClientFixtures.eventually { peer.sentRequests })
        #expect(await ClientFixtures.eventually { Self.answers(peer).pieces + Self.answers(peer).rejects >= 8 })
        // The cancelled requests no longer wait: nothing is queued for the peer.
        let status = try #require(await seed.peers(of: handle).first)
        #expect(status.queuedUploadBytes == 0 && status.queuedRequests == 0 && status.deferredRequests == 0)
        let answered = Self.answers(peer)
        #expect(answered.pieces >= 1 && answered.pieces + answered.rejects == 8)
        await peer.close()
        await seed.shutdown()
    }

    @Test func cancelledRequestsHeldBackByBackPressureAreDroppedAndRejected() async throws {
        let folder = try ClientFixtures.temporaryFolder("cancel-deferred")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // 16 MiB requested, 8 MiB of it cancelled: the 8 MiB left is far more than the kernel's socket buffers
        // (4 MiB send, 4 KiB receive) take, so requests are still held back when the cancels are in.
        let count = 1024
        let torrent = try ClientFixtures.makeSingleFileTorrent(
            in: folder, name: "data.bin", length: count * Self.block, pieceLength: 4 * Self.block)
        var configuration = ClientConfiguration(host: "127.0.0.1", ports: [0])
        configuration.usesTrackers = false
        configuration.maximumQueuedUploadBytesPerPeer = 2 * Self.block
        configuration.maximumQueuedRequestsPerPeer = count + 16
        let seed = try await Client(configuration: configuration)
        let handle = try await seed.addTorrent(torrent, downloadDirectory: folder)
        let requests = (0..<count).map { ($0 / 4, ($0 % 4) * Self.block, Self.block) }
        // The peer stops reading once it has sent its requests and cancels, so blocks pile up behind the cap.
        let cancelled = Array(requests.suffix(count / 2))
        let peer = RawPeer(
            infoHash: handle.wireInfoHash, requests: requests, stopsReading: true, cancels: cancelled, fast: true)
        try await peer.connect(port: seed.port)
        #expect(await ClientFixtures.eventually { peer.sentRequests })
        // Wait until the seed has taken the cancels (its serving queue holds at most the uncancelled half).
        #expect(
            await ClientFixtures.eventually {
                guard let status = await seed.peers(of: handle).first else { return false }
                return status.deferredRequests > 0 && status.queuedRequests <= count / 2
            })
        let status = try #require(await seed.peers(of: handle).first)
        #expect(
            status.deferredRequests <= status.queuedRequests,
            "every request waiting to be read is still wanted: \(status.deferredRequests) waiting, \(status.queuedRequests) queued"
        )
        await peer.close()
        await seed.shutdown()
    }
}
