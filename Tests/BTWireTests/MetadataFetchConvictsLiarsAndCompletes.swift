import BTBencode
import BTMetainfo
import Crypto
import NIOCore
import Testing

@testable import BTWire

/// BEP 9 metadata fetching: pieces spread over peers, timeouts and rejects re-asked of others, sizes checked,
/// the dictionary verified against the info-hash, and a lying peer convicted while the download completes.
@Suite struct MetadataFetchConvictsLiarsAndCompletes {
    /// A real (parseable) v1 torrent whose info dictionary spans several 16 KiB metadata pieces: 4,000 pieces
    /// of 16 KiB have 80,000 bytes of SHA-1 hashes, so the dictionary is 5 metadata pieces.
    static func infoDictionary(pieces: Int = 4_000, seed: UInt64 = 7) -> [UInt8] {
        var rng = WireTestSupport.SeededGenerator(seed: seed)
        let hashes = WireTestSupport.randomBytes(pieces * 20, using: &rng)
        let info: BencodeValue = [
            "length": .integer(Int64(pieces) * 16_384), "name": "metadata-test.bin", "piece length": 16_384,
            "pieces": .bytes(hashes[...]),
        ]
        return info.encoded()
    }

    static func hashes(_ info: [UInt8]) -> InfoHashes { InfoHashes(v1: Array(Insecure.SHA1.hash(data: info)), v2: nil) }

    /// A simulated peer: answers requests from its copy (which may be corrupted), or rejects, or stays silent.
    struct SimulatedPeer {
        enum Behaviour { case honest, corruptsEveryPiece, rejects, silent }
        var copy: [UInt8]
        var behaviour: Behaviour

        func answer(_ piece: Int) -> MetadataMessage? {
            switch behaviour {
            case .silent: return nil
            case .rejects: return .reject(piece: piece)
            case .honest, .corruptsEveryPiece:
                var bytes = copy
                if case .corruptsEveryPiece = behaviour { bytes[piece * 16_384] ^= 0xFF }
                let start = piece * 16_384
                let end = min(start + 16_384, bytes.count)
                return .data(piece: piece, totalSize: bytes.count, data: Array(bytes[start..<end]))
            }
        }
    }

    /// Runs the fetch against simulated peers until no request is left unanswered; returns every action.
    static func run(
        _ fetch: inout MetadataFetch<String>, peers: [String: SimulatedPeer], start: [MetadataFetch<String>.Action],
        now: NIODeadline
    ) -> [MetadataFetch<String>.Action] {
        var log: [MetadataFetch<String>.Action] = []
        var queue = start
        var steps = 0
        while !queue.isEmpty && steps < 10_000 {
            steps += 1
            let action = queue.removeFirst()
            log.append(action)
            guard case .send(.request(let piece), let peer) = action, let answer = peers[peer]?.answer(piece) else {
                continue
            }
            // The answer passes through the real codec, as it would on the wire.
            let decoded = try! MetadataMessage(decoding: answer.encoded())
            queue += fetch.received(decoded, from: peer, now: now)
        }
        return log
    }

    @Test func threePeersWithOneLiarCompleteAndOnlyTheLiarIsBlamed() throws {
        let info = Self.infoDictionary()
        #expect((info.count + 16_383) / 16_384 == 5)
        let now = NIODeadline.uptimeNanoseconds(1_000_000_000)
        var fetch = MetadataFetch<String>(infoHashes: Self.hashes(info))
        let peers: [String: SimulatedPeer] = [
            "A": .init(copy: info, behaviour: .honest), "B": .init(copy: info, behaviour: .honest),
            "C": .init(copy: info, behaviour: .corruptsEveryPiece),
        ]
        var start: [MetadataFetch<String>.Action] = []
        for name in ["A", "B", "C"] { start += fetch.addPeer(name, metadataSize: info.count, now: now) }
        // Requests are spread: every peer is asked for something at once.
        let asked = Set(start.compactMap { if case .send(_, let peer) = $0 { return peer } else { return nil } })
        #expect(asked == ["A", "B", "C"])
        let log = Self.run(&fetch, peers: peers, start: start, now: now)

        #expect(log.contains(.hashMismatch(suppliers: ["A", "B", "C"])))
        #expect(log.contains(.blame("C", .badMetadata)))
        #expect(!log.contains { if case .blame(let peer, _) = $0 { return peer != "C" } else { return false } })
        #expect(log.last == .completed(info))
        #expect(fetch.infoDictionary == info)
        #expect(fetch.progress?.received == 5 && fetch.progress?.total == 5)
        // The fetched dictionary is a torrent with the magnet's trackers.
        let magnet = MagnetLink(infoHashes: Self.hashes(info), trackers: ["http://127.0.0.1:1/announce"])
        let torrent = try Torrent(infoDictionary: info, magnet: magnet)
        #expect(torrent.infoHashes == Self.hashes(info) && torrent.pieceCount == 4_000)
    }

    @Test func aLoneLyingPeerIsBlamedAndTheFetchWaitsForAnother() {
        let info = Self.infoDictionary()
        let now = NIODeadline.uptimeNanoseconds(1_000_000_000)
        var fetch = MetadataFetch<String>(infoHashes: Self.hashes(info))
        let liar = SimulatedPeer(copy: info, behaviour: .corruptsEveryPiece)
        let log = Self.run(
            &fetch, peers: ["L": liar], start: fetch.addPeer("L", metadataSize: info.count, now: now), now: now)
        #expect(log.contains(.hashMismatch(suppliers: ["L"])))
        #expect(log.contains(.blame("L", .badMetadata)))
        #expect(fetch.infoDictionary == nil)
        // A blamed peer is not taken back; an honest newcomer completes the fetch.
        #expect(fetch.addPeer("L", metadataSize: info.count, now: now).isEmpty)
        let honest = SimulatedPeer(copy: info, behaviour: .honest)
        let rest = Self.run(
            &fetch, peers: ["H": honest], start: fetch.addPeer("H", metadataSize: info.count, now: now), now: now)
        #expect(rest.last == .completed(info))
    }

    @Test func absurdZeroAndDisagreeingSizesAreHandled() {
        let info = Self.infoDictionary()
        let now = NIODeadline.uptimeNanoseconds(1_000_000_000)
        var fetch = MetadataFetch<String>(infoHashes: Self.hashes(info))
        #expect(fetch.addPeer("huge", metadataSize: 16 << 20 + 1, now: now) == [.blame("huge", .absurdMetadataSize)])
        #expect(fetch.addPeer("none", metadataSize: 0, now: now).isEmpty)
        #expect(fetch.addPeer("absent", metadataSize: nil, now: now).isEmpty)
        #expect(fetch.progress == nil)
        // The majority size is fetched; the poisoner's size is parked and convicted once the dictionary verifies.
        var start = fetch.addPeer("A", metadataSize: info.count, now: now)
        start += fetch.addPeer("P", metadataSize: info.count + 5_000, now: now)
        start += fetch.addPeer("B", metadataSize: info.count, now: now)
        #expect(fetch.metadataSize == info.count)
        #expect(!start.contains { if case .send(_, "P") = $0 { return true } else { return false } })
        let peers: [String: SimulatedPeer] = [
            "A": .init(copy: info, behaviour: .honest), "B": .init(copy: info, behaviour: .honest),
        ]
        let log = Self.run(&fetch, peers: peers, start: start, now: now)
        #expect(log.contains(.blame("P", .wrongMetadataSize)))
        #expect(log.last == .completed(info))
    }

    @Test func aPoisonedSizeFromTheFirstPeerIsOvercome() {
        let info = Self.infoDictionary()
        let now = NIODeadline.uptimeNanoseconds(1_000_000_000)
        var fetch = MetadataFetch<String>(infoHashes: Self.hashes(info))
        // The first peer claims (and serves) a dictionary 10 bytes longer: it alone sets the first attempt.
        let poisoner = SimulatedPeer(copy: info + [UInt8](repeating: 0, count: 10), behaviour: .honest)
        let honest = SimulatedPeer(copy: info, behaviour: .honest)
        var start = fetch.addPeer("P", metadataSize: info.count + 10, now: now)
        start += fetch.addPeer("H", metadataSize: info.count, now: now)
        let log = Self.run(&fetch, peers: ["P": poisoner, "H": honest], start: start, now: now)
        #expect(log.contains(.blame("P", .badMetadata)))
        #expect(!log.contains { if case .blame("H", _) = $0 { return true } else { return false } })
        #expect(log.last == .completed(info))
    }

    @Test func whenOnlyPeersOfAnotherSizeRemainTheirSizeIsFetched() {
        let info = Self.infoDictionary()
        let now = NIODeadline.uptimeNanoseconds(1_000_000_000)
        var fetch = MetadataFetch<String>(infoHashes: Self.hashes(info))
        _ = fetch.addPeer("wrong1", metadataSize: info.count + 1, now: now)
        _ = fetch.addPeer("wrong2", metadataSize: info.count + 1, now: now)
        _ = fetch.addPeer("H", metadataSize: info.count, now: now)
        #expect(fetch.metadataSize == info.count + 1)
        _ = fetch.peerLeft("wrong1", now: now)
        let moved = fetch.peerLeft("wrong2", now: now)
        #expect(fetch.metadataSize == info.count)
        #expect(moved.first == .send(.request(piece: 0), to: "H"))
    }

    @Test func dataWithAnotherTotalSizeConvictsItsSender() {
        let info = Self.infoDictionary()
        let now = NIODeadline.uptimeNanoseconds(1_000_000_000)
        var fetch = MetadataFetch<String>(infoHashes: Self.hashes(info))
        _ = fetch.addPeer("A", metadataSize: info.count, now: now)
        let lie = MetadataMessage.data(piece: 0, totalSize: 16_384, data: Array(info[0..<16_384]))
        let actions = fetch.received(lie, from: "A", now: now)
        #expect(actions.first == .blame("A", .wrongMetadataSize))
    }

    @Test func timeoutsAndRejectsAreAskedOfAnotherPeer() {
        let info = Self.infoDictionary(pieces: 500)  // one metadata piece
        let now = NIODeadline.uptimeNanoseconds(1_000_000_000)
        var fetch = MetadataFetch<String>(infoHashes: Self.hashes(info))
        #expect(fetch.addPeer("slow", metadataSize: info.count, now: now) == [.send(.request(piece: 0), to: "slow")])
        #expect(fetch.addPeer("other", metadataSize: info.count, now: now).isEmpty)
        #expect(fetch.tick(now: now + .seconds(19)).isEmpty)
        #expect(fetch.nextDeadline == now + .seconds(20))
        #expect(fetch.tick(now: now + .seconds(20)) == [.send(.request(piece: 0), to: "other")])
        // `other` rejects: `slow` is still resting after its timeout, so nobody is asked until it may be again.
        let later = now + .seconds(21)
        #expect(fetch.received(.reject(piece: 0), from: "other", now: later).isEmpty)
        #expect(fetch.tick(now: now + .seconds(50)) == [.send(.request(piece: 0), to: "slow")])
        // A late answer from the peer that timed out is still taken.
        let piece = MetadataMessage.data(piece: 0, totalSize: info.count, data: info)
        #expect(fetch.received(piece, from: "slow", now: now + .seconds(51)) == [.completed(info)])
    }

    @Test func requestsPerPeerAreBoundedAndDepartedPeersRequestsMove() {
        let info = Self.infoDictionary()
        let now = NIODeadline.uptimeNanoseconds(1_000_000_000)
        var fetch = MetadataFetch<String>(
            infoHashes: Self.hashes(info), configuration: .init(maxOutstandingRequestsPerPeer: 2))
        let first = fetch.addPeer("A", metadataSize: info.count, now: now)
        #expect(first == [.send(.request(piece: 0), to: "A"), .send(.request(piece: 1), to: "A")])
        #expect(fetch.progress?.received == 0 && fetch.progress?.total == 5)
        #expect(
            fetch.addPeer("B", metadataSize: info.count, now: now)
                == [.send(.request(piece: 2), to: "B"), .send(.request(piece: 3), to: "B")])
        // A leaves: its pieces wait until B has room, then go to B.
        #expect(fetch.peerLeft("A", now: now).isEmpty)
        let piece2 = MetadataMessage.data(piece: 2, totalSize: info.count, data: Array(info[32_768..<49_152]))
        #expect(fetch.received(piece2, from: "B", now: now) == [.send(.request(piece: 0), to: "B")])
        #expect(fetch.progress?.received == 1)
    }

    @Test func peersBeyondTheLimitAreNotUsed() {
        let info = Self.infoDictionary()
        let now = NIODeadline.uptimeNanoseconds(1_000_000_000)
        var fetch = MetadataFetch<Int>(
            infoHashes: Self.hashes(info), configuration: .init(maxOutstandingRequestsPerPeer: 1, maxPeers: 3))
        var asked: Set<Int> = []
        for peer in 0..<10 {
            for case .send(_, let to) in fetch.addPeer(peer, metadataSize: info.count, now: now) { asked.insert(to) }
        }
        #expect(asked == [0, 1, 2])
        #expect(fetch.addPeer(11, metadataSize: info.count, now: now).isEmpty)
    }

    @Test func aTruncatedV2HashInABtihLinkIsAccepted() throws {
        let info = Self.infoDictionary(pieces: 10)
        let truncated = Array(SHA256.hash(data: info))[0..<20]
        var fetch = MetadataFetch<Int>(infoHashes: InfoHashes(v1: Array(truncated), v2: nil))
        _ = fetch.addPeer(1, metadataSize: info.count, now: .uptimeNanoseconds(0))
        let actions = fetch.received(
            .data(piece: 0, totalSize: info.count, data: info), from: 1, now: .uptimeNanoseconds(0))
        #expect(actions == [.completed(info)])
    }
}
