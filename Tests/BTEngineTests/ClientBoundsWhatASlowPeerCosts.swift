import BTMetainfo
import Foundation
import Testing

@testable import BTEngine

/// A peer that does not read must not make the client buffer without limit, and a peer that floods
/// requests beyond our `reqq` is disconnected with a reason.
@Suite(.serialized) struct ClientBoundsWhatASlowPeerCosts {
    /// With and without an upload limit: requests waiting for upload tokens count against the cap too, or
    /// the tokens of later turns would be spent on blocks nobody reads.
    @Test(arguments: [false, true])
    func aPeerThatNeverReadsKeepsQueuedUploadBytesUnderTheCap(rateLimited: Bool) async throws {
        let folder = try ClientFixtures.temporaryFolder("slowpeer")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // 16 MiB: far more than the kernel's socket buffers (4 MiB send, 4 KiB receive) take.
        let pieceLength = 256 * 1024
        let length = 16 * 1024 * 1024
        let torrent = try ClientFixtures.makeSingleFileTorrent(
            in: folder, name: "big.bin", length: length, pieceLength: pieceLength)
        let cap = 256 * 1024
        var configuration = ClientConfiguration(host: "127.0.0.1")
        configuration.usesTrackers = false
        configuration.reportsPacketEvents = false
        configuration.maximumQueuedUploadBytesPerPeer = cap
        configuration.maximumQueuedRequestsPerPeer = length / 16384 + 16
        let seed = try await Client(configuration: configuration)
        let limits =
            rateLimited
            ? TorrentLimits(uploadLimit: .bytesPerSecond(2 * 1024 * 1024, burst: 256 * 1024)) : TorrentLimits()
        let handle = try await seed.addTorrent(torrent, downloadDirectory: folder, limits: limits)
        #expect(await seed.status(of: handle)?.isComplete == true)

        var requests: [(Int, Int, Int)] = []
        for offset in stride(from: 0, to: length, by: 16384) {
            requests.append((offset / pieceLength, offset % pieceLength, 16384))
        }
        let peer = RawPeer(infoHash: handle.wireInfoHash, requests: requests, stopsReading: true)
        try await peer.connect(port: seed.port)
        #expect(await ClientFixtures.eventually { peer.sentRequests })

        // Wait until the client holds requests back because the peer's queue is full.
        var largest = 0
        let heldBack = await ClientFixtures.eventually {
            guard let status = await seed.peers(of: handle).first else { return false }
            largest = max(largest, status.queuedUploadBytes)
            return status.deferredRequests > 0 && status.queuedUploadBytes > 0
        }
        #expect(heldBack, "requests should wait once the peer's queued bytes reach the cap")
        // While the requests stand, the figure stays under the cap.
        for _ in 0..<20 {
            let status = try #require(await seed.peers(of: handle).first)
            largest = max(largest, status.queuedUploadBytes)
            #expect(status.queuedRequests > 0)
            #expect(status.uploadedBytes < Int64(length))
            let total = try #require(await seed.status(of: handle))
            #expect(total.queuedUploadBytes <= cap)
            try await Task.sleep(for: .milliseconds(25))
        }
        #expect(largest <= cap, "queued upload bytes peaked at \(largest), cap \(cap)")
        #expect(largest > 0)
        await peer.close()
        await seed.shutdown()
    }

    @Test func aPeerFloodingRequestsBeyondOurQueueIsDisconnectedWithAReason() async throws {
        let folder = try ClientFixtures.temporaryFolder("flood")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let torrent = try ClientFixtures.makeSingleFileTorrent(
            in: folder, name: "flood.bin", length: 1024 * 1024, pieceLength: 64 * 1024)
        var configuration = ClientConfiguration(host: "127.0.0.1")
        configuration.usesTrackers = false
        configuration.maximumQueuedRequestsPerPeer = 8
        let seed = try await Client(configuration: configuration)
        let reasons = Recorder<String>()
        seed.events.on(.peerDisconnect) { event in
            if case .peerDisconnect(_, let reason) = event { reasons.append(reason.name) }
        }
        let handle = try await seed.addTorrent(torrent, downloadDirectory: folder)
        let requests = (0..<20).map { ($0 / 4, ($0 % 4) * 16384, 16384) }
        let peer = RawPeer(infoHash: handle.wireInfoHash, requests: requests, stopsReading: false)
        try await peer.connect(port: seed.port)
        #expect(await ClientFixtures.eventually { peer.isClosed })
        #expect(await ClientFixtures.eventually { reasons.values.contains("requestFlood") })
        #expect(await seed.peers(of: handle).isEmpty)
        await peer.close()
        await seed.shutdown()
    }
}
