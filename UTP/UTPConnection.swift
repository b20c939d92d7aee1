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
        /// Padding bytes its first transmission carries: a path MTU probe (``PathMTUSearch``) if above 0.
        var padding = 0
    }

    /// The limits and timers.
    public let configuration: UTPConfiguration
    /// The id of packets this side receives.
    public let receiveID: UInt16
    /// The id of packets this side sends (except ST_SYN).
    public let sendID: UInt16
    /// The current phase.
    public internal(set) var phase: Phase
    /// The round-trip estimator.
    public internal(set) var roundTrip: RoundTripEstimator
    /// The congestion controller.
    public internal(set) var congestion: LEDBAT
    /// Payload bytes sent and neither acknowledged nor considered lost.
    public internal(set) var bytesInFlight = 0
    /// The peer's advertised receive window.
    public internal(set) var peerWindow: Int
    /// Counters, for tests and status.
    public internal(set) var statistics = UTPStatistics()
    /// Path MTU discovery: ``PathMTUSearch/floor`` is the size of full data packets.
    public internal(set) var pathMTU: PathMTUSearch

    // Sending.
    var nextSequence: UInt16
    var inFlight = CircularBuffer<OutgoingPacket>(initialCapacity: 16)
    var sendQueue = CircularBuffer<ByteBuffer>()
    var queuedBytes = 0
    var unackedPayloadBytes = 0
    /// Packets in ``inFlight`` not acknowledged yet (selectively acknowledged ones wait for the cumulative ACK).
    var unackedPackets = 0
    /// Packets in ``inFlight`` marked for resending.
    var resendCount = 0
    var duplicateAcks = 0
    var fastResendFrom: UInt16
    var consecutiveTimeouts = 0
    var retransmitDeadline: NIODeadline?
    var synTransmissions = 0
    var closeRequested = false
    var finSent = false
    var finAckedAt: NIODeadline?

    // Receiving.
    var ackNumber: UInt16 = 0
    var reorder: [UInt16: (type: UTPPacketType, payload: ByteBuffer)] = [:]
    var reorderBytes = 0
    var remoteFinSequence: UInt16?
    var endOfStreamDelivered = false
    var ackPending = false
    var replyMicroseconds: UInt32 = 0
    /// When the selective ACK was last sent again for a silent peer (``UTPConfiguration/holeAcknowledgementInterval``).
    var holeAcknowledgedAt: NIODeadline?

    // Timers.
    let createdAt: NIODeadline
    var lastReceivedAt: NIODeadline
    var lastSentAt: NIODeadline

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
        self.pathMTU = PathMTUSearch(
            floor: configuration.minimumDatagramSize, ceiling: configuration.maximumDatagramSize)
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
            if let silent = silentPeerDeadline, let resend = holeAcknowledgementDeadline {
                deadline = min(deadline, silent, resend)
            }
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
            if let deadline = silentPeerDeadline, now >= deadline {
                actions.append(.send(resetPacket(now: now)))
                close(.peerSilent, now: now, into: &actions)
                return actions
            }
            if let deadline = holeAcknowledgementDeadline, now >= deadline {
                holeAcknowledgedAt = now
                ackPending = false
                statistics.holeAcknowledgementsResent += 1
                actions.append(.send(statePacket(now: now)))
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

    // MARK: - A silent peer

    /// While a hole in the peer's stream is open: when the peer, silent since, is declared dead
    /// (``UTPConfiguration/silentPeerTimeout``, at least 16 retransmission timeouts, at most the idle timeout).
    var silentPeerDeadline: NIODeadline? {
        guard !reorder.isEmpty else { return nil }
        let timeout = max(configuration.silentPeerTimeout, .nanoseconds(baseTimeout.nanoseconds * 16))
        return lastReceivedAt + min(timeout, configuration.idleTimeout)
    }

    /// While a hole is open and the peer silent: when the selective ACK is next sent again.
    var holeAcknowledgementDeadline: NIODeadline? {
        guard !reorder.isEmpty else { return nil }
        return max(lastReceivedAt, holeAcknowledgedAt ?? lastReceivedAt)
            + max(configuration.holeAcknowledgementInterval, baseTimeout)
    }

    /// The retransmission timeout without this side's back-off (which measures our losses, not the peer's).
    var baseTimeout: TimeAmount {
        guard let smoothed = roundTrip.smoothed else { return configuration.initialTimeout }
        return max(roundTrip.minimumTimeout, smoothed + .nanoseconds(roundTrip.variance.nanoseconds * 4))
    }

    // MARK: - Clock

    static func microseconds(_ now: NIODeadline) -> UInt32 { UInt32(truncatingIfNeeded: now.uptimeNanoseconds / 1000) }
    static func milliseconds(_ now: NIODeadline) -> Int64 { Int64(now.uptimeNanoseconds / 1_000_000) }
}
