import NIOCore

/// Packetising, (re)sending and the packets this side builds (ST_STATE, ST_RESET), and closing.
extension UTPConnection {
    // MARK: - Sending

    /// Resends what is marked lost, packetises queued bytes and sends ST_FIN, as far as the congestion window
    /// and the peer's window allow (at least one packet when nothing is in flight).
    mutating func transmitPending(now: NIODeadline, into actions: inout [UTPConnectionAction]) {
        guard phase == .connected else { return }
        let window = min(congestion.window, max(peerWindow, 0))
        func fits(_ size: Int) -> Bool { bytesInFlight == 0 || bytesInFlight + size <= window }
        var index = 0
        while resendCount > 0, index < inFlight.count {
            if inFlight[offset: index].needsResend {
                guard fits(inFlight[offset: index].payload.readableBytes) else {
                    congestion.noteWindowFull(nowMilliseconds: Self.milliseconds(now))
                    return
                }
                transmit(index: index, now: now, into: &actions)
            }
            index += 1
        }
        let full = pathMTU.floor - UTPPacket.headerSize
        while queuedBytes > 0, inFlight.count < configuration.maximumPacketsInFlight {
            var size = min(full, queuedBytes)
            if size < full, hasUnacknowledged, !closeRequested { break }  // Nagle: wait for more or for the ACK
            // A full packet may probe the path MTU: at most a full payload, padded to the probe's size (an
            // extension takes at least 2 bytes: a probe one byte above the floor carries one byte less).
            var padding = 0
            if size == full, pathMTU.shouldProbe(congestionWindow: congestion.window) {
                padding = max(2, pathMTU.probeSize - pathMTU.floor)
                size = pathMTU.probeSize - UTPPacket.headerSize - padding
            }
            guard fits(size) else {
                congestion.noteWindowFull(nowMilliseconds: Self.milliseconds(now))
                return
            }
            let payload = dequeue(size)
            var packet = OutgoingPacket(type: .data, sequence: nextSequence, payload: payload, sentAt: now)
            if padding > 0 {
                packet.padding = padding
                pathMTU.probeSent(sequence: nextSequence)
            }
            inFlight.append(packet)
            unackedPayloadBytes += size
            unackedPackets += 1
            nextSequence &+= 1
            transmit(index: inFlight.count - 1, now: now, into: &actions)
        }
        if closeRequested, queuedBytes == 0, !finSent, inFlight.count < configuration.maximumPacketsInFlight {
            finSent = true
            inFlight.append(OutgoingPacket(type: .fin, sequence: nextSequence, payload: ByteBuffer(), sentAt: now))
            unackedPackets += 1
            nextSequence &+= 1
            transmit(index: inFlight.count - 1, now: now, into: &actions)
        }
    }

    /// Takes `size` bytes off the send queue: a slice when one write holds them all, a copy that
    /// coalesces several small writes otherwise.
    mutating func dequeue(_ size: Int) -> ByteBuffer {
        queuedBytes -= size
        if sendQueue[sendQueue.startIndex].readableBytes >= size {
            let slice = sendQueue[sendQueue.startIndex].readSlice(length: size)!
            if sendQueue[sendQueue.startIndex].readableBytes == 0 { sendQueue.removeFirst() }
            return slice
        }
        var payload = ByteBuffer()
        payload.reserveCapacity(size)
        var remaining = size
        while remaining > 0 {
            var chunk = sendQueue.removeFirst()
            let take = min(remaining, chunk.readableBytes)
            var part = chunk.readSlice(length: take)!
            payload.writeBuffer(&part)
            remaining -= take
            if chunk.readableBytes > 0 { sendQueue.prepend(chunk) }
        }
        return payload
    }

    /// (Re)sends the packet at `index` of the in-flight queue.
    mutating func transmit(index: Int, now: NIODeadline, into actions: inout [UTPConnectionAction]) {
        let entry = inFlight[offset: index]
        if entry.transmissions > 0 { statistics.retransmissions += 1 }
        inFlight[offset: index].transmissions += 1
        inFlight[offset: index].sentAt = now
        if entry.needsResend { resendCount -= 1 }
        inFlight[offset: index].needsResend = false
        if !entry.countedInFlight {
            inFlight[offset: index].countedInFlight = true
            bytesInFlight += entry.payload.readableBytes
        }
        // A probe's padding goes with its first transmission only: resent, it is a floor-sized packet, which
        // crosses the path.
        let packet = UTPPacket(
            type: entry.type, connectionID: entry.type == .syn ? receiveID : sendID,
            timestampMicroseconds: Self.microseconds(now), timestampDifferenceMicroseconds: replyMicroseconds,
            windowSize: advertisedWindow, sequenceNumber: entry.sequence, ackNumber: entry.type == .syn ? 0 : ackNumber,
            extensions: entry.transmissions == 0 && entry.padding > 0 ? Self.padding(entry.padding) : [],
            payload: entry.payload)
        if reorder.isEmpty { ackPending = false }
        if retransmitDeadline == nil { retransmitDeadline = now + roundTrip.timeout }
        lastSentAt = now
        statistics.packetsSent += 1
        actions.append(.send(packet))
    }

    /// Extensions of ``UTPPacket/paddingExtensionType`` that take exactly `bytes` bytes (at least 2), headers
    /// included.
    static func padding(_ bytes: Int) -> [UTPPacket.Extension] {
        let count = (bytes + 256) / 257
        var body = bytes - 2 * count
        return (0..<count).map { _ in
            let size = min(255, body)
            body -= size
            return .other(type: UTPPacket.paddingExtensionType, bytes: [UInt8](repeating: 0, count: size))
        }
    }

    var advertisedWindow: UInt32 { UInt32(max(0, configuration.receiveBufferSize - reorderBytes)) }

    mutating func statePacket(now: NIODeadline) -> UTPPacket {
        var extensions: [UTPPacket.Extension] = []
        if !reorder.isEmpty {
            let base = ackNumber &+ 2
            let offsets = reorder.keys.map { Wrapping.distance(from: base, to: $0) }
            var sack = SelectiveAck(bitCount: (offsets.max() ?? 0) + 1)
            for offset in offsets { sack[offset] = true }
            extensions.append(.selectiveAck(sack))
        }
        lastSentAt = now
        statistics.packetsSent += 1
        return UTPPacket(
            type: .state, connectionID: sendID, timestampMicroseconds: Self.microseconds(now),
            timestampDifferenceMicroseconds: replyMicroseconds, windowSize: advertisedWindow,
            sequenceNumber: nextSequence, ackNumber: ackNumber, extensions: extensions)
    }

    func resetPacket(now: NIODeadline) -> UTPPacket {
        UTPPacket(
            type: .reset, connectionID: sendID, timestampMicroseconds: Self.microseconds(now),
            timestampDifferenceMicroseconds: replyMicroseconds, sequenceNumber: nextSequence, ackNumber: ackNumber)
    }

    mutating func close(_ reason: UTPCloseReason, now: NIODeadline, into actions: inout [UTPConnectionAction]) {
        phase = .closed(reason)
        inFlight.removeAll()
        sendQueue.removeAll()
        reorder.removeAll()
        queuedBytes = 0
        reorderBytes = 0
        bytesInFlight = 0
        unackedPayloadBytes = 0
        unackedPackets = 0
        resendCount = 0
        retransmitDeadline = nil
        actions.append(.closed(reason))
    }
}
