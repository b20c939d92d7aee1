import NIOCore
import Testing

@testable import BTUTP

/// Lost packets are resent on evidence (three duplicate ACKs, or three later packets selectively
/// acknowledged) well before the retransmission timeout, and the receiver describes what it holds with
/// selective ACKs of whole 32-bit words.
struct LossIsRepairedBeforeTheTimeout {
    @Test func oneLostDataPacketIsResentOnSelectiveAckEvidence() {
        var pair = UTPPair()
        pair.pathToA.delay = .milliseconds(50)
        pair.pathToB.delay = .milliseconds(50)
        var droppedSequence: UInt16?
        pair.dropRule = { packet, toB in
            guard toB, packet.type == .data, packet.sequenceNumber == 20, droppedSequence == nil else { return false }
            droppedSequence = packet.sequenceNumber
            return true
        }
        let content = UTPPair.randomBytes(200_000, seed: 2)
        pair.pendingFromA = content
        pair.closeWhenDone = true
        #expect(pair.run(for: .seconds(60)) { $0.bothClosed })
        #expect(droppedSequence == 20)
        #expect(pair.receivedByB == content)
        #expect(pair.a.statistics.fastRetransmissions >= 1)
        #expect(pair.a.statistics.timeouts == 0)
        let sacks = pair.packetsFromB.compactMap(\.selectiveAck)
        #expect(!sacks.isEmpty)
        #expect(sacks.allSatisfy { $0.bytes.count % 4 == 0 }, "BEP 29: whole 32-bit words")
        let first = pair.packetsFromB.first { $0.selectiveAck != nil }!
        #expect(first.ackNumber == 19)
        #expect(first.selectiveAck![0], "bit 0 is ack_nr + 2 = 21, received")
    }

    @Test func threeDuplicateAcksResendTheOldestPacket() {
        // Drive A by hand: four packets in flight, then three ST_STATEs repeating the ack before them.
        let now = NIODeadline.uptimeNanoseconds(1_000_000_000)
        var (a, _) = UTPConnection.connect(receiveID: 10, initialSequence: 100, now: now)
        let synAck = UTPPacket(
            type: .state, connectionID: 10, timestampMicroseconds: 1, windowSize: 1 << 20, sequenceNumber: 500,
            ackNumber: 100)
        _ = a.receive(synAck, now: now)
        var data = ByteBuffer(repeating: 9, count: 1380 * 2)
        let sent = a.write(&data, now: now)
        #expect(sent.count == 2)
        let duplicate = UTPPacket(
            type: .state, connectionID: 10, timestampMicroseconds: 2, windowSize: 1 << 20, sequenceNumber: 500,
            ackNumber: 100)
        #expect(a.receive(duplicate, now: now).isEmpty)
        #expect(a.receive(duplicate, now: now).isEmpty)
        let third = a.receive(duplicate, now: now)
        guard case .send(let resent)? = third.first else {
            Issue.record("no resend after three duplicate ACKs: \(third)")
            return
        }
        #expect(resent.type == .data && resent.sequenceNumber == 101)
        #expect(a.statistics.fastRetransmissions == 1)
        #expect(a.receive(duplicate, now: now).isEmpty, "once per loss")
        // Duplicate acks on data packets do not count (libutp).
        var (c, _) = UTPConnection.connect(receiveID: 10, initialSequence: 100, now: now)
        _ = c.receive(synAck, now: now)
        var more = ByteBuffer(repeating: 9, count: 1380 * 2)
        _ = c.write(&more, now: now)
        for sequence in 0..<5 {
            var carrying = duplicate
            carrying.type = .data
            carrying.sequenceNumber = 500 &+ UInt16(sequence)
            carrying.payload = ByteBuffer(string: "x")
            #expect(
                !c.receive(carrying, now: now).contains { if case .send(let p) = $0 { p.type == .data } else { false } }
            )
        }
    }

    @Test func heavyLossWithReorderingStillCompletesWithFewTimeouts() {
        var pair = UTPPair(seed: 21)
        pair.pathToB.loss = 0.03
        pair.pathToB.delay = .milliseconds(30)
        pair.pathToB.jitter = .milliseconds(3)
        pair.pathToA.delay = .milliseconds(30)
        let content = UTPPair.randomBytes(2 << 20, seed: 12)
        pair.pendingFromA = content
        pair.closeWhenDone = true
        #expect(pair.run(for: .seconds(600)) { $0.bothClosed })
        #expect(pair.receivedByB == content)
        let stats = pair.a.statistics
        #expect(stats.fastRetransmissions > stats.timeouts * 3, "\(stats)")
    }
}
