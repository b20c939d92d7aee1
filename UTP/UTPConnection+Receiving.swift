import NIOCore

/// The peer's data: in-order delivery, the reorder buffer and the end of the stream.
extension UTPConnection {
    // MARK: - Receiving data

    func reorderAccepts(_ packet: UTPPacket) -> Bool {
        let offset = Wrapping.distance(from: ackNumber &+ 1, to: packet.sequenceNumber)
        return offset < configuration.maximumReorderPackets
    }

    mutating func processData(_ packet: UTPPacket, now: NIODeadline, into actions: inout [UTPConnectionAction]) {
        let sequence = packet.sequenceNumber
        let offset = Wrapping.distance(from: ackNumber &+ 1, to: sequence)
        ackPending = true
        if offset >= 0x8000 { return }  // old: a duplicate, acknowledged again
        guard offset < configuration.maximumReorderPackets else { return }
        if let fin = remoteFinSequence, !Wrapping.isBefore(sequence, fin), sequence != fin { return }
        if packet.type == .fin {
            if remoteFinSequence == nil {
                remoteFinSequence = sequence
            } else if remoteFinSequence != sequence {
                return
            }
        }
        if offset == 0 {
            deliver(packet.type, packet.payload, into: &actions)
            ackNumber = sequence
            while let next = reorder.removeValue(forKey: ackNumber &+ 1) {
                reorderBytes -= next.payload.readableBytes
                ackNumber &+= 1
                deliver(next.type, next.payload, into: &actions)
            }
        } else if reorder[sequence] == nil,
            reorderBytes + packet.payload.readableBytes <= configuration.receiveBufferSize
        {
            // A copy: the payload is a slice of the driver's read buffer (many datagrams of a vector read), which
            // a held slice would keep alive whole for as long as the hole before it stays open.
            reorder[sequence] = (packet.type, ByteBuffer(bytes: packet.payload.readableBytesView))
            reorderBytes += packet.payload.readableBytes
            statistics.packetsReordered += 1
        }
    }

    mutating func deliver(
        _ type: UTPPacketType, _ payload: ByteBuffer, into actions: inout [UTPConnectionAction]
    ) {
        if payload.readableBytes > 0, !endOfStreamDelivered {
            statistics.bytesDelivered += payload.readableBytes
            actions.append(.deliver(payload))
        }
        if type == .fin, !endOfStreamDelivered {
            endOfStreamDelivered = true
            reorder.removeAll()
            reorderBytes = 0
            actions.append(.endOfStream)
        }
    }

    mutating func checkFinished(now: NIODeadline, into actions: inout [UTPConnectionAction]) {
        guard finAckedAt != nil, endOfStreamDelivered else { return }
        // The peer's FIN must be acknowledged before we go, or it resends it until it times out.
        if ackPending {
            ackPending = false
            actions.append(.send(statePacket(now: now)))
        }
        close(.finished, now: now, into: &actions)
    }
}
