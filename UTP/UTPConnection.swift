import NIOCore

/// One uTP connection (BEP 29) as a pure state machine: packets, writes and "time is now T" in, actions
/// out (``UTPConnectionAction``). It owns no socket, clock or timer; its driver sends the packets it returns,
/// calls ``tick(now:)`` at ``nextDeadline``, and calls ``flushAcknowledgement(now:)`` when a burst of
/// datagrams has been read, so that one ST_STATE acknowledges the whole burst.
///
/// Connection ids (BEP 29): the initiator picks its receive id `r` and sends ST_SYN with id `r`; it sends
/// everything else with id `r + 1`. The acceptor receives with `r + 1` and sends with `r`.
///
/// Facts BEP 29 leaves open, as libutp and libtorrent do them:
/// - The acceptor's reply to ST_SYN is an ST_STATE whose `seq_nr` is its (random) initial sequence number,
///   not consumed: its first data packet carries the same number, so the initiator sets `ack_nr = seq_nr - 1`
///   (libutp `utp_process_incoming` in `CS_SYN_SENT`, libtorrent `incoming_packet` in `syn_sent`).
/// - The acceptor sends no data before the initiator's first data packet arrives: the ST_SYN's source
///   address may be forged, and answering it with data would make us a reflector (libutp stays in
///   `CS_SYN_RECV`, which is "not writable", until then).
/// - Packets whose `ack_nr` acknowledges a packet never sent are dropped whole (libutp: a spoofed or
///   malicious packet); an `ack_nr` older than the window is ignored, but the packet's data is kept.
/// - Duplicate ACKs count only on ST_STATE: a data packet repeats the ack because it carries data, not
///   because something was lost (libutp, "in line with BSD4.4 TCP").
/// - A packet is lost when 3 packets after it were selectively acknowledged; at most 4 are resent per
///   ACK, and each only once per loss episode (libutp `selective_ack`, `fast_resend_seq_nr`).
public struct UTPConnection: Sendable {
    /// Where the connection is in its life.
    public enum Phase: Hashable, Sendable {
        /// ST_SYN sent, waiting for the acceptor's ST_STATE.
        case synSent
        /// ST_SYN received and answered, waiting for the initiator's first data.
        case synReceived
        /// Data may flow both ways (possibly closing: see ``UTPConnection/isClosing``).
        case connected
        /// Over; every input returns no action.
        case closed(UTPCloseReason)
    }

    /// A packet sent (or queued for resending) and not yet acknowledged cumulatively.
    struct OutgoingPacket: Sendable {
        var type: UTPPacketType
        var sequence: UInt16
        var payload: ByteBuffer
        var sentAt: NIODeadline
        var transmissions = 0
        var needsResend = false
        /// Selectively acknowledged.
        var acked = false
        /// Counted in ``UTPConnection/bytesInFlight``.
        var countedInFlight = false
    }

    /// The limits and timers.
    public let configuration: UTPConfiguration
    /// The id of packets this side receives.
    public let receiveID: UInt16
    /// The id of packets this side sends (except ST_SYN).
    public let sendID: UInt16
    /// The current phase.
    public private(set) var phase: Phase
    /// The round-trip estimator.
    public private(set) var roundTrip: RoundTripEstimator
    /// The congestion controller.
    public private(set) var congestion: LEDBAT
    /// Payload bytes sent and neither acknowledged nor considered lost.
    public private(set) var bytesInFlight = 0
    /// The peer's advertised receive window.
    public private(set) var peerWindow: Int
    /// Counters, for tests and status.
    public private(set) var statistics = UTPStatistics()

    // Sending.
    private var nextSequence: UInt16
    private var inFlight = CircularBuffer<OutgoingPacket>(initialCapacity: 16)
    private var sendQueue = CircularBuffer<ByteBuffer>()
    private var queuedBytes = 0
    private var unackedPayloadBytes = 0
    /// Packets in ``inFlight`` not acknowledged yet (selectively acknowledged ones wait for the cumulative ACK).
    private var unackedPackets = 0
    /// Packets in ``inFlight`` marked for resending.
    private var resendCount = 0
    private var duplicateAcks = 0
    private var fastResendFrom: UInt16
    private var consecutiveTimeouts = 0
    private var retransmitDeadline: NIODeadline?
    private var synTransmissions = 0
    private var closeRequested = false
    private var finSent = false
    private var finAckedAt: NIODeadline?

    // Receiving.
    private var ackNumber: UInt16 = 0
    private var reorder: [UInt16: (type: UTPPacketType, payload: ByteBuffer)] = [:]
    private var reorderBytes = 0
    private var remoteFinSequence: UInt16?
    private var endOfStreamDelivered = false
    private var ackPending = false
    private var replyMicroseconds: UInt32 = 0

    // Timers.
    private let createdAt: NIODeadline
    private var lastReceivedAt: NIODeadline
    private var lastSentAt: NIODeadline

    private init(
        configuration: UTPConfiguration, receiveID: UInt16, sendID: UInt16, phase: Phase, initialSequence: UInt16,
        now: NIODeadline
    ) {
        self.configuration = configuration
        self.receiveID = receiveID
        self.sendID = sendID
        self.phase = phase
        self.nextSequence = initialSequence
        self.fastResendFrom = initialSequence
        self.roundTrip = RoundTripEstimator(
            initialTimeout: configuration.initialTimeout, minimumTimeout: configuration.minimumTimeout)
        self.congestion = LEDBAT(
            packetSize: configuration.maximumPayloadSize, maximumWindow: configuration.sendBufferSize,
            variant: configuration.congestionControl,
            targetDelayMicroseconds: configuration.targetDelay.map { Int($0.nanoseconds / 1000) },
            gainBytesPerRoundTrip: configuration.gainBytesPerRoundTrip)
        self.peerWindow = configuration.maximumPayloadSize
        self.createdAt = now
        self.lastReceivedAt = now
        self.lastSentAt = now
    }

    /// Opens a connection: returns the machine and the ST_SYN to send.
    ///
    /// - Parameters:
    ///   - configuration: the connection's settings (congestion control, windows, timeouts).
    ///   - receiveID: this side's receive id, random and unused on this socket for the peer's address.
    ///   - initialSequence: the SYN's sequence number (libutp and libtorrent pick it at random; BEP 29 says 1).
    ///   - now: the current time (the SYN's send time and its resend deadline count from it).
    public static func connect(
        configuration: UTPConfiguration = UTPConfiguration(), receiveID: UInt16, initialSequence: UInt16,
        now: NIODeadline
    ) -> (UTPConnection, [UTPConnectionAction]) {
        var connection = UTPConnection(
            configuration: configuration, receiveID: receiveID, sendID: receiveID &+ 1, phase: .synSent,
            initialSequence: initialSequence, now: now)
        connection.inFlight.append(
            OutgoingPacket(type: .syn, sequence: initialSequence, payload: ByteBuffer(), sentAt: now))
        connection.unackedPackets = 1
        connection.nextSequence = initialSequence &+ 1
        var actions: [UTPConnectionAction] = []
        connection.transmit(index: 0, now: now, into: &actions)
        connection.synTransmissions = 1
        connection.retransmitDeadline = now + configuration.synTimeout
        return (connection, actions)
    }

    /// Accepts a connection from a received ST_SYN: returns the machine and the ST_STATE that answers it.
    /// A packet that is not an ST_SYN gives nil.
    ///
    /// - Parameters:
    ///   - syn: the received packet.
    ///   - configuration: the connection's settings (congestion control, windows, timeouts).
    ///   - initialSequence: this side's first sequence number, random (libutp, libtorrent).
    ///   - now: the current time.
    public static func accept(
        _ syn: UTPPacket, configuration: UTPConfiguration = UTPConfiguration(), initialSequence: UInt16,
        now: NIODeadline
    ) -> (UTPConnection, [UTPConnectionAction])? {
        guard syn.type == .syn else { return nil }
        var connection = UTPConnection(
            configuration: configuration, receiveID: syn.connectionID &+ 1, sendID: syn.connectionID,
            phase: .synReceived, initialSequence: initialSequence, now: now)
        connection.ackNumber = syn.sequenceNumber
        connection.peerWindow = Int(syn.windowSize)
        connection.noteReceived(syn, now: now)
        return (connection, [.send(connection.statePacket(now: now))])
    }

    // MARK: - Inputs

    /// Handles one packet addressed to this connection (the driver matched its id and address).
    public mutating func receive(_ packet: UTPPacket, now: NIODeadline) -> [UTPConnectionAction] {
        var actions: [UTPConnectionAction] = []
        switch phase {
        case .closed:
            return []
        case _ where packet.type == .reset:
            close(.reset, now: now, into: &actions)
            return actions
        case .synSent:
            // libtorrent: "just wait for an ack to our SYN, ignore everything else".
            guard packet.type == .state || packet.type == .data, packet.ackNumber == nextSequence &- 1 else {
                return []
            }
            ackNumber = packet.sequenceNumber &- 1
            phase = .connected
            actions.append(.connected)
        case .synReceived:
            switch packet.type {
            case .syn:
                // Our ST_STATE was lost and the initiator resends its SYN: answer again.
                if packet.sequenceNumber == ackNumber, packet.connectionID &+ 1 == receiveID {
                    noteReceived(packet, now: now)
                    return [.send(statePacket(now: now))]
                }
                return []
            case .data, .fin:
                guard reorderAccepts(packet) else { return [] }
                phase = .connected
                actions.append(.connected)
            default:
                break
            }
        case .connected:
            if packet.type == .syn { return [] }
        }
        // ack_nr of something never sent: spoofed or broken, drop it whole (libutp).
        if phase != .synReceived, !Wrapping.isBefore(packet.ackNumber, nextSequence) { return actions }
        noteReceived(packet, now: now)
        statistics.packetsReceived += 1
        processAcknowledgement(packet, now: now, into: &actions)
        if packet.type == .data || packet.type == .fin { processData(packet, now: now, into: &actions) }
        if case .closed = phase { return actions }
        transmitPending(now: now, into: &actions)
        checkFinished(now: now, into: &actions)
        return actions
    }

    /// Queues bytes to send, as many of `data` as the send buffer takes (the rest stays in `data`), and
    /// sends what the windows allow. Small writes are coalesced: a packet shorter than a full one waits while
    /// data is in flight (Nagle), unless the connection is closing.
    public mutating func write(_ data: inout ByteBuffer, now: NIODeadline) -> [UTPConnectionAction] {
        guard !closeRequested else { return [] }
        if case .closed = phase { return [] }
        let count = min(data.readableBytes, writableBytes)
        if count > 0, let slice = data.readSlice(length: count) {
            sendQueue.append(slice)
            queuedBytes += count
        }
        var actions: [UTPConnectionAction] = []
        transmitPending(now: now, into: &actions)
        return actions
    }

    /// How many more bytes ``write(_:now:)`` accepts now.
    public var writableBytes: Int {
        if closeRequested { return 0 }
        if case .closed = phase { return 0 }
        return max(0, configuration.sendBufferSize - queuedBytes - unackedPayloadBytes)
    }

    /// Starts a graceful close: the queued bytes are sent, then ST_FIN; the connection ends when the FIN is
    /// acknowledged and the peer's FIN has arrived (or ``UTPConfiguration/lingerTimeout`` after our FIN was
    /// acknowledged). A connection not yet connected ends at once.
    public mutating func close(now: NIODeadline) -> [UTPConnectionAction] {
        var actions: [UTPConnectionAction] = []
        switch phase {
        case .closed:
            return []
        case .synSent, .synReceived:
            actions.append(.send(resetPacket(now: now)))
            close(.finished, now: now, into: &actions)
        case .connected:
            closeRequested = true
            transmitPending(now: now, into: &actions)
            checkFinished(now: now, into: &actions)
        }
        return actions
    }

    /// Ends the connection at once with ST_RESET.
    public mutating func abort(now: NIODeadline) -> [UTPConnectionAction] {
        if case .closed = phase { return [] }
        var actions: [UTPConnectionAction] = [.send(resetPacket(now: now))]
        close(.aborted, now: now, into: &actions)
        return actions
    }

    /// Sends the ST_STATE owed for the packets received since the last one (with a selective ACK if packets
    /// are missing). Drivers call it when the socket has no more datagrams to read (`channelReadComplete`),
    /// so one ACK answers a whole burst.
    public mutating func flushAcknowledgement(now: NIODeadline) -> [UTPConnectionAction] {
        guard ackPending, phase == .connected else { return [] }
        ackPending = false
        return [.send(statePacket(now: now))]
    }

    /// Whether an acknowledgement is owed (``flushAcknowledgement(now:)`` would send one).
    public var acknowledgementPending: Bool { ackPending && phase == .connected }

    /// Whether ``close(now:)`` was called.
    public var isClosing: Bool { closeRequested }

    /// When ``tick(now:)`` must next be called, nil if never (closed).
    public var nextDeadline: NIODeadline? {
        switch phase {
        case .closed:
            return nil
        case .synSent:
            return retransmitDeadline
        case .synReceived:
            return createdAt + configuration.acceptTimeout
        case .connected:
            var deadline = min(lastReceivedAt + configuration.idleTimeout, lastSentAt + configuration.keepAliveInterval)
            if let retransmit = retransmitDeadline { deadline = min(deadline, retransmit) }
            if let acked = finAckedAt {
                deadline = min(deadline, max(acked, lastReceivedAt) + configuration.lingerTimeout)
            }
            return deadline
        }
    }

    /// Runs the timers due at `now`: SYN retransmission and connect timeout, retransmission timeout with
    /// back-off, keep-alive, idle timeout, linger after close.
    public mutating func tick(now: NIODeadline) -> [UTPConnectionAction] {
        var actions: [UTPConnectionAction] = []
        switch phase {
        case .closed:
            return []
        case .synSent:
            guard let deadline = retransmitDeadline, now >= deadline else { return [] }
            if synTransmissions >= configuration.maximumSynTransmissions {
                close(.connectTimedOut, now: now, into: &actions)
                return actions
            }
            transmit(index: 0, now: now, into: &actions)
            synTransmissions += 1
            retransmitDeadline = now + .nanoseconds(configuration.synTimeout.nanoseconds << (synTransmissions - 1))
        case .synReceived:
            if now >= createdAt + configuration.acceptTimeout { close(.connectTimedOut, now: now, into: &actions) }
        case .connected:
            if now >= lastReceivedAt + configuration.idleTimeout {
                close(.idle, now: now, into: &actions)
                return actions
            }
            if let acked = finAckedAt, now >= max(acked, lastReceivedAt) + configuration.lingerTimeout {
                close(.finished, now: now, into: &actions)
                return actions
            }
            if let deadline = retransmitDeadline, now >= deadline {
                retransmissionTimeout(now: now, into: &actions)
                if case .closed = phase { return actions }
            }
            if now >= lastSentAt + configuration.keepAliveInterval {
                ackPending = false
                actions.append(.send(statePacket(now: now)))
            }
        }
        return actions
    }

    // MARK: - Acknowledgements

    private mutating func noteReceived(_ packet: UTPPacket, now: NIODeadline) {
        lastReceivedAt = now
        let nowMicroseconds = Self.microseconds(now)
        replyMicroseconds = nowMicroseconds &- packet.timestampMicroseconds
        congestion.addReverseDelaySample(replyMicroseconds, nowMilliseconds: Self.milliseconds(now))
    }

    private mutating func processAcknowledgement(
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

    private var hasUnacknowledged: Bool { unackedPackets > 0 }

    /// Fast retransmit: the oldest packet after 3 duplicate ACKs, or any packet with 3 selectively
    /// acknowledged packets after it (at most 4 per ACK, libutp).
    private mutating func detectLosses(selectiveAck: Bool, now: NIODeadline, into actions: inout [UTPConnectionAction])
    {
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
            congestion.lost(sequence: inFlight[offset: index].sequence, nextSequence: nextSequence)
            fastResendFrom = inFlight[offset: index].sequence &+ 1
            transmit(index: index, now: now, into: &actions)
        }
    }

    private mutating func retransmissionTimeout(now: NIODeadline, into actions: inout [UTPConnectionAction]) {
        guard hasUnacknowledged else {
            retransmitDeadline = nil
            return
        }
        consecutiveTimeouts += 1
        statistics.timeouts += 1
        if consecutiveTimeouts >= configuration.maximumConsecutiveTimeouts {
            actions.append(.send(resetPacket(now: now)))
            close(.timedOut, now: now, into: &actions)
            return
        }
        roundTrip.backOff()
        congestion.timedOut(idle: bytesInFlight == 0)
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

    // MARK: - Receiving data

    private func reorderAccepts(_ packet: UTPPacket) -> Bool {
        let offset = Wrapping.distance(from: ackNumber &+ 1, to: packet.sequenceNumber)
        return offset < configuration.maximumReorderPackets
    }

    private mutating func processData(_ packet: UTPPacket, now: NIODeadline, into actions: inout [UTPConnectionAction])
    {
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

    private mutating func deliver(
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

    private mutating func checkFinished(now: NIODeadline, into actions: inout [UTPConnectionAction]) {
        guard finAckedAt != nil, endOfStreamDelivered else { return }
        // The peer's FIN must be acknowledged before we go, or it resends it until it times out.
        if ackPending {
            ackPending = false
            actions.append(.send(statePacket(now: now)))
        }
        close(.finished, now: now, into: &actions)
    }

    // MARK: - Sending

    /// Resends what is marked lost, packetises queued bytes and sends ST_FIN, as far as the congestion window
    /// and the peer's window allow (at least one packet when nothing is in flight).
    private mutating func transmitPending(now: NIODeadline, into actions: inout [UTPConnectionAction]) {
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
        let full = configuration.maximumPayloadSize
        while queuedBytes > 0, inFlight.count < configuration.maximumPacketsInFlight {
            let size = min(full, queuedBytes)
            if size < full, hasUnacknowledged, !closeRequested { break }  // Nagle: wait for more or for the ACK
            guard fits(size) else {
                congestion.noteWindowFull(nowMilliseconds: Self.milliseconds(now))
                return
            }
            let payload = dequeue(size)
            inFlight.append(OutgoingPacket(type: .data, sequence: nextSequence, payload: payload, sentAt: now))
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
    private mutating func dequeue(_ size: Int) -> ByteBuffer {
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
    private mutating func transmit(index: Int, now: NIODeadline, into actions: inout [UTPConnectionAction]) {
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
        let packet = UTPPacket(
            type: entry.type, connectionID: entry.type == .syn ? receiveID : sendID,
            timestampMicroseconds: Self.microseconds(now), timestampDifferenceMicroseconds: replyMicroseconds,
            windowSize: advertisedWindow, sequenceNumber: entry.sequence, ackNumber: entry.type == .syn ? 0 : ackNumber,
            payload: entry.payload)
        if reorder.isEmpty { ackPending = false }
        if retransmitDeadline == nil { retransmitDeadline = now + roundTrip.timeout }
        lastSentAt = now
        statistics.packetsSent += 1
        actions.append(.send(packet))
    }

    private var advertisedWindow: UInt32 { UInt32(max(0, configuration.receiveBufferSize - reorderBytes)) }

    private mutating func statePacket(now: NIODeadline) -> UTPPacket {
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

    private func resetPacket(now: NIODeadline) -> UTPPacket {
        UTPPacket(
            type: .reset, connectionID: sendID, timestampMicroseconds: Self.microseconds(now),
            timestampDifferenceMicroseconds: replyMicroseconds, sequenceNumber: nextSequence, ackNumber: ackNumber)
    }

    private mutating func close(_ reason: UTPCloseReason, now: NIODeadline, into actions: inout [UTPConnectionAction]) {
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

    // MARK: - Clock

    static func microseconds(_ now: NIODeadline) -> UInt32 { UInt32(truncatingIfNeeded: now.uptimeNanoseconds / 1000) }
    static func milliseconds(_ now: NIODeadline) -> Int64 { Int64(now.uptimeNanoseconds / 1_000_000) }
}

/// Counters of one connection.
public struct UTPStatistics: Hashable, Sendable {
    /// Packets sent, retransmissions and acknowledgements included.
    public var packetsSent = 0
    /// Packets received and accepted.
    public var packetsReceived = 0
    /// Packets sent again (timeouts and fast retransmits).
    public var retransmissions = 0
    /// Packets resent because of duplicate or selective ACKs.
    public var fastRetransmissions = 0
    /// Retransmission timeouts.
    public var timeouts = 0
    /// Packets that arrived out of order and waited in the reorder buffer.
    public var packetsReordered = 0
    /// Stream bytes delivered in order.
    public var bytesDelivered = 0
}
