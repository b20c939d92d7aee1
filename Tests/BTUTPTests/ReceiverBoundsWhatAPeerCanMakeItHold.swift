import NIOCore
import Testing

@testable import BTUTP

/// What a misbehaving or spoofing peer can make a connection hold or do is bounded: acknowledgements of
/// packets never sent are dropped, packets too far ahead are dropped, the reorder buffer stays within the
/// receive buffer, and the advertised window shrinks as it fills.
struct ReceiverBoundsWhatAPeerCanMakeItHold {
    static let now = NIODeadline.uptimeNanoseconds(1_000_000_000)

    /// B accepting A's SYN (initial sequence 1, B's 1000), then A's first data (seq 2).
    static func acceptor(configuration: UTPConfiguration = UTPConfiguration()) -> UTPConnection {
        let syn = UTPPacket(type: .syn, connectionID: 7, windowSize: 1 << 20, sequenceNumber: 1, ackNumber: 0)
        var (b, _) = UTPConnection.accept(syn, configuration: configuration, initialSequence: 1000, now: now)!
        let first = data(sequence: 2, ack: 999)
        let actions = b.receive(first, now: now)
        #expect(actions.contains(.connected))
        return b
    }

    static func data(sequence: UInt16, ack: UInt16, size: Int = 100) -> UTPPacket {
        UTPPacket(
            type: .data, connectionID: 8, timestampMicroseconds: 5, windowSize: 1 << 20, sequenceNumber: sequence,
            ackNumber: ack, payload: ByteBuffer(repeating: UInt8(truncatingIfNeeded: sequence), count: size))
    }

    @Test func anAckOfAPacketNeverSentIsDroppedWhole() {
        var b = Self.acceptor()
        let spoofed = Self.data(sequence: 3, ack: 1500)
        #expect(b.receive(spoofed, now: Self.now).isEmpty)
        #expect(b.statistics.bytesDelivered == 100)
    }

    @Test func aPacketBeyondTheReorderWindowIsDropped() {
        var configuration = UTPConfiguration()
        configuration.maximumReorderPackets = 64
        var b = Self.acceptor(configuration: configuration)
        _ = b.receive(Self.data(sequence: 2 + 64, ack: 999), now: Self.now)
        _ = b.receive(Self.data(sequence: 2 + 65, ack: 999), now: Self.now)
        #expect(b.statistics.packetsReordered == 1)
        let ack = b.flushAcknowledgement(now: Self.now)
        guard case .send(let state)? = ack.first else {
            Issue.record("no ACK")
            return
        }
        #expect(state.ackNumber == 2)
        #expect(state.selectiveAck?.receivedSequenceNumbers(ackNumber: 2) == [66])
    }

    @Test func theReorderBufferStaysWithinTheReceiveBufferAndTheWindowShrinks() {
        var configuration = UTPConfiguration()
        configuration.receiveBufferSize = 10_000
        var b = Self.acceptor(configuration: configuration)
        for sequence in 4..<200 {
            _ = b.receive(Self.data(sequence: UInt16(sequence), ack: 999, size: 1000), now: Self.now)
        }
        #expect(b.statistics.packetsReordered == 10)
        guard case .send(let state)? = b.flushAcknowledgement(now: Self.now).first else {
            Issue.record("no ACK")
            return
        }
        #expect(state.windowSize == 0)
        // The missing packet arrives: everything held is delivered and the window opens again.
        let actions = b.receive(Self.data(sequence: 3, ack: 999, size: 1000), now: Self.now)
        #expect(actions.filter { if case .deliver = $0 { true } else { false } }.count == 11)
        guard case .send(let reopened)? = b.flushAcknowledgement(now: Self.now).first else {
            Issue.record("no ACK")
            return
        }
        #expect(reopened.windowSize == 10_000 && reopened.ackNumber == 13)
    }

    @Test func duplicatesAreAcknowledgedAgainButDeliveredOnce() {
        var b = Self.acceptor()
        _ = b.flushAcknowledgement(now: Self.now)
        #expect(
            b.receive(Self.data(sequence: 2, ack: 999), now: Self.now).allSatisfy {
                if case .deliver = $0 { false } else { true }
            })
        #expect(b.acknowledgementPending)
        #expect(b.statistics.bytesDelivered == 100)
    }

    @Test func nothingAfterTheFinIsDelivered() {
        var b = Self.acceptor()
        var fin = Self.data(sequence: 4, ack: 999, size: 0)
        fin.type = .fin
        _ = b.receive(fin, now: Self.now)
        _ = b.receive(Self.data(sequence: 5, ack: 999), now: Self.now)
        let actions = b.receive(Self.data(sequence: 3, ack: 999), now: Self.now)
        #expect(actions.filter { if case .deliver = $0 { true } else { false } }.count == 1)
        #expect(actions.contains(.endOfStream))
        #expect(b.statistics.bytesDelivered == 200)
    }
}
