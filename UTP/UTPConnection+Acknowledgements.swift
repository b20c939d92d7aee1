import NIOCore

/// Acknowledgements of what this side sent: cumulative and selective ACKs, round-trip samples, fast
/// retransmit and the retransmission timeout.
extension UTPConnection {
    // MARK: - Acknowledgements

    mutating func noteReceived(_ packet: UTPPacket, now: NIODeadline) {
        lastReceivedAt = now
        let nowMicroseconds = Self.microseconds(now)
        replyMicroseconds = nowMicroseconds &- packet.timestampMicroseconds
        congestion.addReverseDelaySample(replyMicroseconds, nowMilliseconds: Self.milliseconds(now))
    }

    mutating func processAcknowledgement(
        _ packet: UTPPacket, now: NIODeadline, into actions: inout [UTPConnectionAction]
    ) {
        peerWindow = Int(packet.windowSize)
        let oldest = inFlight.first?.sequence ?? nextSequence
        var ackedBytes = 0
        var minimumRoundTrip: TimeAmount?
        var advanced = false
        func take(_ entry: OutgoingPacket, into connection: inout UTPConnection) {
            if entry.countedInFlight { connection.bytesInFlight -= entry.payload.readableBytes }
            guard !entry.acked else { return }
            connection.unackedPackets -= 1
            connection.unackedPayloadBytes -= entry.payload.readableBytes
            ackedBytes += entry.payload.readableBytes
            if entry.transmissions == 1, !entry.needsResend {
                let sample = now - entry.sentAt
                minimumRoundTrip = min(minimumRoundTrip ?? sample, sample)
            }
            if entry.sequence == connection.pathMTU.probeSequence, entry.transmissions == 1, !entry.needsResend {
                connection.pathMTU.probeAcknowledged(
                    size: UTPPacket.headerSize + entry.payload.readableBytes + entry.padding)
            }
        }
        let ack = packet.ackNumber
        if !Wrapping.isBefore(ack, oldest), Wrapping.isBefore(ack, nextSequence) {
            let count = Wrapping.distance(from: oldest, to: ack) + 1
            for _ in 0..<count {
                let entry = inFlight.removeFirst()
                take(entry, into: &self)
                if entry.needsResend { resendCount -= 1 }
                if entry.type == .fin { finAckedAt = now }
            }
            advanced = true
        }
        if let sack = packet.selectiveAck, let first = inFlight.first?.sequence {
            for offset in 0..<sack.bitCount where sack[offset] {
                let sequence = ack &+ 2 &+ UInt16(truncatingIfNeeded: offset)
                guard !Wrapping.isBefore(sequence, first), Wrapping.isBefore(sequence, nextSequence) else { continue }
                let index = Wrapping.distance(from: first, to: sequence)
                guard !inFlight[offset: index].acked, inFlight[offset: index].transmissions > 0 else { continue }
                let entry = inFlight[offset: index]
                take(entry, into: &self)
                if entry.needsResend { resendCount -= 1 }
                inFlight[offset: index].acked = true
                inFlight[offset: index].needsResend = false
                inFlight[offset: index].countedInFlight = false
            }
        }
        // One RTT sample per ACK, the smallest among the packets it newly acknowledges (sent once and not since
        // declared lost: Karn).
        // libutp and libtorrent add a sample per packet, but a packet acknowledged late because the ACKs of it
        // were lost, or because it waited behind a hole, measures the repair, not the path: under heavy loss
        // those samples drove the timeout to its 60 s ceiling in the simulated link tests.
        if let sample = minimumRoundTrip { roundTrip.add(sample: sample) }
        if advanced {
            duplicateAcks = 0
            consecutiveTimeouts = 0
            roundTrip.resetBackOff()
        } else if packet.type == .state, !inFlight.isEmpty, ack == oldest &- 1 {
            duplicateAcks += 1
        }
        if !hasUnacknowledged {
            retransmitDeadline = nil
        } else if advanced || retransmitDeadline == nil {
            retransmitDeadline = now + roundTrip.timeout
        }
        congestion.addDelaySample(packet.timestampDifferenceMicroseconds, nowMilliseconds: Self.milliseconds(now))
        if ackedBytes > 0 {
            congestion.acknowledged(
                bytes: ackedBytes, minimumRoundTripMicroseconds: minimumRoundTrip.map { Int($0.nanoseconds / 1000) },
                nowMilliseconds: Self.milliseconds(now))
        }
        detectLosses(selectiveAck: packet.selectiveAck != nil, now: now, into: &actions)
    }

    var hasUnacknowledged: Bool { unackedPackets > 0 }

    /// Fast retransmit: the oldest packet after 3 duplicate ACKs, or any packet with 3 selectively
    /// acknowledged packets after it (at most 4 per ACK, libutp).
    mutating func detectLosses(selectiveAck: Bool, now: NIODeadline, into actions: inout [UTPConnectionAction]) {
        guard let first = inFlight.first else { return }
        var lost: [Int] = []
        let threshold = configuration.duplicateAcksBeforeResend
        if duplicateAcks >= threshold, !first.acked, first.transmissions > 0,
            !Wrapping.isBefore(first.sequence, fastResendFrom)
        {
            lost.append(0)
        }
        if selectiveAck {
            var ackedAfter = 0
            var candidates: [Int] = []
            for index in (0..<inFlight.count).reversed() {
                let entry = inFlight[offset: index]
                if entry.acked {
                    ackedAfter += 1
                } else if ackedAfter >= threshold, entry.transmissions > 0,
                    !Wrapping.isBefore(entry.sequence, fastResendFrom), index != 0 || lost.isEmpty
                {
                    candidates.append(index)
                }
            }
            lost += candidates.reversed()
        }
        for index in lost.prefix(4) {
            statistics.fastRetransmissions += 1
            let entry = inFlight[offset: index]
            if entry.sequence == pathMTU.probeSequence, entry.transmissions == 1 {
                // A lost probe: the path's MTU is below it, which says nothing of congestion (libtorrent).
                pathMTU.probeLost(size: UTPPacket.headerSize + entry.payload.readableBytes + entry.padding)
            } else {
                congestion.lost(sequence: entry.sequence, nextSequence: nextSequence)
            }
            fastResendFrom = inFlight[offset: index].sequence &+ 1
            transmit(index: index, now: now, into: &actions)
        }
    }

    mutating func retransmissionTimeout(now: NIODeadline, into actions: inout [UTPConnectionAction]) {
        guard hasUnacknowledged else {
            retransmitDeadline = nil
            return
        }
        consecutiveTimeouts += 1
        statistics.timeouts += 1
        if consecutiveTimeouts >= configuration.maximumConsecutiveTimeouts {
            actions.append(.send(resetPacket(now: now)))
            // Both streams are complete (the peer's FIN arrived, everything we sent but our FIN was
            // acknowledged): only the acknowledgement of our FIN went missing, after which the peer closed
            // (libutp and libtorrent keep no TIME_WAIT to answer a resent FIN). That is a finished connection.
            let onlyOurFinUnacknowledged =
                finSent && endOfStreamDelivered && unackedPackets == 1 && inFlight.last.map { !$0.acked } == true
            close(onlyOurFinUnacknowledged ? .finished : .timedOut, now: now, into: &actions)
            return
        }
        roundTrip.backOff()
        if let probe = pathMTU.probeSequence, unackedPackets == 1,
            let entry = inFlight.first(where: { !$0.acked }), entry.sequence == probe, entry.transmissions == 1
        {
            // The probe was the only packet unacknowledged: lost for its size, not for congestion (libtorrent).
            pathMTU.probeLost(size: UTPPacket.headerSize + entry.payload.readableBytes + entry.padding)
        } else {
            pathMTU.probeAbandoned()
            congestion.timedOut(idle: bytesInFlight == 0)
        }
        duplicateAcks = 0
        for index in 0..<inFlight.count
        where !inFlight[offset: index].acked && inFlight[offset: index].transmissions > 0
            && !inFlight[offset: index].needsResend
        {
            if inFlight[offset: index].countedInFlight {
                bytesInFlight -= inFlight[offset: index].payload.readableBytes
            }
            inFlight[offset: index].countedInFlight = false
            inFlight[offset: index].needsResend = true
            resendCount += 1
        }
        fastResendFrom = nextSequence
        retransmitDeadline = now + roundTrip.timeout
        transmitPending(now: now, into: &actions)
    }
}
