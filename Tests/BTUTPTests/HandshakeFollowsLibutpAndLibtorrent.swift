import NIOCore
import Testing

@testable import BTUTP

/// Connection setup as libutp and libtorrent do it where BEP 29 is silent: connection ids, the SYN's reply
/// that does not consume a sequence number, and an acceptor that sends no data before the initiator does.
struct HandshakeFollowsLibutpAndLibtorrent {
    @Test func connectionIDsAndSequenceNumbersMatchLibutp() {
        var pair = UTPPair(receiveID: 0x1234, initialSequenceA: 500, initialSequenceB: 9000)
        pair.pendingFromA = ByteBuffer(string: "hello")
        pair.run(for: .seconds(1)) { $0.receivedByB.readableBytes == 5 }
        let syn = pair.packetsFromA[0]
        #expect(syn.type == .syn && syn.connectionID == 0x1234 && syn.sequenceNumber == 500 && syn.ackNumber == 0)
        let reply = pair.packetsFromB[0]
        #expect(reply.type == .state && reply.connectionID == 0x1234 && reply.ackNumber == 500)
        #expect(reply.sequenceNumber == 9000)
        let data = pair.packetsFromA[1]
        #expect(data.type == .data && data.connectionID == 0x1235 && data.sequenceNumber == 501)
        #expect(data.ackNumber == 8999, "the ST_STATE's seq_nr is not consumed: ack_nr = seq_nr - 1")
        #expect(pair.b?.receiveID == 0x1235 && pair.b?.sendID == 0x1234)
        #expect(pair.actionsOfA.first == .send(syn))
        #expect(pair.actionsOfA.contains(.connected))
    }

    @Test func theAcceptorsFirstDataCarriesTheSequenceNumberOfItsReply() {
        var pair = UTPPair(initialSequenceB: 9000)
        pair.pendingFromA = ByteBuffer(string: "ping")
        pair.pendingFromB = ByteBuffer(string: "pong")
        pair.run(for: .seconds(1)) { $0.receivedByA.readableBytes == 4 && $0.receivedByB.readableBytes == 4 }
        let firstData = pair.packetsFromB.first { $0.type == .data }
        #expect(firstData?.sequenceNumber == 9000)
        #expect(String(buffer: pair.receivedByA) == "pong")
    }

    @Test func theAcceptorSendsNoDataBeforeTheInitiatorDoes() {
        var pair = UTPPair()
        pair.pendingFromB = ByteBuffer(repeating: 1, count: 10_000)
        // B accepts and wants to write at once, but A stays silent after the handshake.
        pair.run(for: .seconds(5)) { _ in false }
        #expect(pair.b?.phase == .synReceived)
        #expect(pair.packetsFromB.allSatisfy { $0.type == .state })
        #expect(pair.receivedByA.readableBytes == 0)
        // Once A sends, B's data flows.
        pair.pendingFromA = ByteBuffer(string: "x")
        pair.run(for: .seconds(5)) { $0.receivedByA.readableBytes == 10_000 }
        #expect(pair.receivedByA.readableBytes == 10_000)
    }

    @Test func anAcceptedConnectionWithoutDataExpires() {
        var pair = UTPPair()
        pair.run(for: .seconds(30)) { $0.closedB != nil }
        #expect(pair.closedB == .connectTimedOut)
        #expect(pair.packetsFromB.count == 1, "no retransmission of the SYN's answer to a possibly forged address")
    }

    @Test func aResentSynIsAnsweredAgain() {
        var pair = UTPPair()
        var dropped = false
        pair.dropRule = { packet, toB in
            if !toB, packet.type == .state, !dropped {
                dropped = true
                return true
            }
            return false
        }
        pair.pendingFromA = ByteBuffer(string: "hello")
        pair.run(for: .seconds(10)) { $0.receivedByB.readableBytes == 5 }
        #expect(String(buffer: pair.receivedByB) == "hello")
        #expect(pair.packetsFromA.filter { $0.type == .syn }.count == 2)
        #expect(pair.packetsFromA[1].type == .syn)
    }

    @Test func anUnansweredSynGivesUpAfterTwoTransmissionsWithBackOff() {
        var pair = UTPPair()
        pair.dropRule = { _, _ in true }
        let start = pair.now
        pair.run(for: .seconds(60)) { $0.closedA != nil }
        #expect(pair.closedA == .connectTimedOut)
        #expect(pair.packetsFromA.map(\.type) == [.syn, .syn])
        #expect(pair.now - start == .seconds(9), "3 s, then 6 s (libutp and libtorrent give up after two)")
    }

    @Test func aResetEndsTheConnectionOnBothSides() {
        var pair = UTPPair()
        pair.pendingFromA = ByteBuffer(string: "hello")
        pair.run(for: .seconds(1)) { $0.receivedByB.readableBytes == 5 }
        var b = pair.b!
        let actions = b.abort(now: pair.nowB)
        pair.b = b
        pair.apply(actions, fromA: false)
        #expect(pair.closedB == .aborted)
        pair.run(for: .seconds(1)) { $0.closedA != nil }
        #expect(pair.closedA == .reset)
        #expect(pair.a.receive(pair.packetsFromB[0], now: pair.now).isEmpty, "closed stays quiet")
    }
}
