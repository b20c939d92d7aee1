import NIOCore
import Testing

@testable import BTUTP

/// A sender that gives up without a word (libtorrent does after 3 losses of one packet) leaves its receiver
/// waiting on a hole: the receiver sends its selective ACK again while the peer is silent, and closes with
/// ``UTPCloseReason/peerSilent`` after ``UTPConfiguration/silentPeerTimeout``, not after the idle timeout.
struct ASilentPeerIsNoticedWhileAHoleIsOpen {
    @Test func theReceiverClosesAfterTheSilentPeerTimeout() {
        // A sends 200 kB to B; packet 30 never arrives, 31...40 do, and A is gone after that (everything it sends
        // from then on is dropped).
        var pair = UTPPair()
        var vanished = false
        pair.dropRule = { packet, toB in
            guard toB else { return false }
            if packet.type == .data, packet.sequenceNumber == 30 { return true }
            if packet.type == .data, packet.sequenceNumber > 40 { vanished = true }
            return vanished
        }
        pair.pendingFromA = UTPPair.randomBytes(200_000, seed: 11)
        #expect(pair.run(for: .seconds(100)) { $0.closedB != nil })
        #expect(pair.closedB == .peerSilent)
        // It took 16 retransmission timeouts from the last packet received (B only received, so it has no round
        // trip sample: 16 x the initial 1 s, more than the 15 s floor), far less than the 120 s idle timeout.
        let waited = pair.now - pair.b!.lastReceivedAt
        #expect(waited == .seconds(16), "waited \(waited)")
        #expect(pair.packetsFromB.last?.type == .reset)
        // The selective ACK went out again every 2 s meanwhile.
        #expect(pair.b!.statistics.holeAcknowledgementsResent == 7)
        let resent = pair.packetsFromB.suffix(8).dropLast()
        #expect(resent.allSatisfy { $0.type == .state && $0.ackNumber == 29 && $0.selectiveAck != nil })
    }

    @Test func aLiveSenderRepairingTheHoleSlowlyIsNotClosed() {
        // Packet 30 is lost twice (sent and fast-resent), then the path to B goes dark for 2.5 s: the hole stays
        // open while A backs off its timeouts; when the path comes back, A's next resend fills it.
        var pair = UTPPair()
        var lossesOf30 = 0
        var dark = false
        pair.dropRule = { packet, toB in
            guard toB else { return false }
            if dark { return true }
            if packet.type == .data, packet.sequenceNumber == 30, lossesOf30 < 2 {
                lossesOf30 += 1
                return true
            }
            return false
        }
        let content = UTPPair.randomBytes(400_000, seed: 12)
        pair.pendingFromA = content
        pair.closeWhenDone = true
        #expect(pair.run(for: .seconds(10)) { _ in lossesOf30 == 2 })
        dark = true
        pair.run(for: .milliseconds(2500)) { _ in false }
        #expect(pair.closedB == nil)
        dark = false
        #expect(pair.run(for: .seconds(120)) { $0.bothClosed })
        #expect(pair.closedB == .finished)
        #expect(pair.receivedByB == content)
    }

    @Test func aSilentPeerWithoutAHoleWaitsForTheIdleTimeout() {
        // Everything arrived; A then stays silent (its keep-alives dropped): B keeps the connection until the
        // idle timeout, as before.
        var pair = UTPPair()
        var silent = false
        pair.dropRule = { _, toB in toB && silent }
        let content = UTPPair.randomBytes(100_000, seed: 13)
        pair.pendingFromA = content
        #expect(pair.run(for: .seconds(10)) { $0.receivedByB.readableBytes == 100_000 })
        silent = true
        let start = pair.now
        #expect(pair.run(for: .seconds(200)) { $0.closedB != nil })
        #expect(pair.closedB == .idle)
        #expect(pair.now - start >= .seconds(100))
        #expect(pair.b!.statistics.holeAcknowledgementsResent == 0)
    }
}
