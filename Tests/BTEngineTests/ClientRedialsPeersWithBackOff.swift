import BTMetainfo
import BTWire
import Foundation
import NIOCore
import NIOPosix
import Testing

@testable import BTEngine

/// A failed dial is not the end: the address is tried again after 2, 4, 8, ... s (at most 60 s apart),
/// forever for an address the user gave, up to five times for one a tracker gave; reasons another try would
/// not change are never retried.
@Suite struct PeerRedialsBackOff {
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    @Test func delaysDoubleUpToAMinute() {
        var redials = PeerRedials()
        var delays: [Int64] = []
        var now = start
        for _ in 0..<9 {
            let entry = redials.failed(host: "127.0.0.9", port: 6881, source: .user, now: now)!
            delays.append((entry.notBefore - now).nanoseconds / 1_000_000_000)
            #expect(redials.due(now: entry.notBefore - .milliseconds(1)).isEmpty, "not before its delay")
            #expect(redials.due(now: entry.notBefore).map(\.host) == ["127.0.0.9"])
            now = entry.notBefore
        }
        #expect(delays == [2, 4, 8, 16, 32, 60, 60, 60, 60])
        #expect(redials.count == 1, "a user address is never forgotten")
    }

    @Test func aPeerThatWasConnectedWaitsAMinute() {
        var redials = PeerRedials()
        let entry = redials.failed(host: "h", port: 1, source: .tracker, wasConnected: true, now: start)
        #expect(entry?.notBefore == start + .seconds(60))
    }

    @Test func trackerAddressesAreForgottenAfterFiveFailures() {
        var redials = PeerRedials()
        for failure in 1...4 {
            #expect(redials.failed(host: "10.0.0.1", port: 1, source: .tracker, now: start)?.failures == failure)
        }
        #expect(redials.failed(host: "10.0.0.1", port: 1, source: .tracker, now: start) == nil)
        #expect(redials.count == 0)
    }

    @Test func successStartsTheCountAgain() {
        var redials = PeerRedials()
        redials.failed(host: "h", port: 1, source: .tracker, now: start)
        redials.failed(host: "h", port: 1, source: .tracker, now: start)
        redials.succeeded(host: "h", port: 1)
        #expect(redials.failed(host: "h", port: 1, source: .tracker, now: start)?.failures == 1)
    }

    @Test(arguments: BTWire.DisconnectReason.allCases)
    func onlyReasonsAnotherTryCouldChangeAreRetried(reason: BTWire.DisconnectReason) {
        let retried: Set<BTWire.DisconnectReason> = [
            .byRemote, .ioError, .handshakeTimeout, .tooMany, .hashChecking, .queueFull, .noSuchTorrent,
        ]
        #expect(PeerRedials.retries(after: reason) == retried.contains(reason))
    }
}

/// The bug, end to end: a seed told to dial a leecher (`nbt seed --peer`) a few seconds before the
/// leecher listens reaches it once it does, without a tracker and without the leecher knowing the seed.
@Suite(.serialized) struct ClientRedialsAPeerThatWasNotListeningYet {
    @Test func seedStartedBeforeItsLeecherStillReachesIt() async throws {
        let seedFolder = try ClientFixtures.temporaryFolder("early-seed")
        let leechFolder = try ClientFixtures.temporaryFolder("late-leech")
        defer {
            for folder in [seedFolder, leechFolder] { try? FileManager.default.removeItem(atPath: folder) }
        }
        let torrent = try ClientFixtures.makeTorrent(in: seedFolder)
        // A port nobody listens on yet: bound once to learn a free one, then closed.
        let probe = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.41", port: 0).get()
        let port = probe.localAddress!.port!
        try await probe.close()

        let seed = try await Client(configuration: ClientConfiguration(host: "127.0.0.40", ports: [0]))
        let seedHandle = try await seed.addTorrent(torrent, downloadDirectory: seedFolder)
        try await seed.connect(host: "127.0.0.41", port: port, for: seedHandle)
        try await Task.sleep(for: .seconds(1))  // the first dial has failed by now

        let leecher = try await Client(configuration: ClientConfiguration(host: "127.0.0.41", ports: [port]))
        let handle = try await leecher.addTorrent(torrent, downloadDirectory: leechFolder)
        let status = await ClientFixtures.waitForCompletion(leecher, handle, limit: .seconds(30))
        #expect(status?.isComplete == true, "the seed redials the leecher once it listens")
        await leecher.shutdown()
        await seed.shutdown()
    }
}
