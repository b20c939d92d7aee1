import NIOCore

/// Identifies one uTP connection on a socket: the peer's address and the id this side receives with.
public struct UTPConnectionID: Hashable, Sendable, CustomStringConvertible {
    /// The peer's address.
    public let address: SocketAddress
    /// The connection id of packets this side receives (``UTPConnection/receiveID``).
    public let receiveID: UInt16

    public var description: String { "\(address)#\(receiveID)" }
}

/// What a ``UTPSocketHandler`` tells its user, on the channel's event loop.
public protocol UTPSocketDelegate: AnyObject {
    /// A connection completed its handshake (dialled by ``UTPSocketHandler/connect(to:)`` or accepted).
    func utpConnected(_ connection: UTPConnectionID, incoming: Bool, socket: UTPSocketHandler)
    /// In-order bytes arrived on a connection.
    func utpReceived(_ bytes: ByteBuffer, on connection: UTPConnectionID, socket: UTPSocketHandler)
    /// The peer ended its stream (sent ST_FIN).
    func utpEndOfStream(on connection: UTPConnectionID, socket: UTPSocketHandler)
    /// A connection ended; its id is no longer valid.
    func utpClosed(_ connection: UTPConnectionID, reason: UTPCloseReason, socket: UTPSocketHandler)
    /// A connection whose ``UTPSocketHandler/write(_:to:)`` was refused (pending bytes at their maximum) has
    /// sent everything pending into its send buffer: write again.
    func utpWritable(_ connection: UTPConnectionID, socket: UTPSocketHandler)
}

extension UTPSocketDelegate {
    /// Does nothing: delegates that never fill the pending bytes need not implement it.
    public func utpWritable(_ connection: UTPConnectionID, socket: UTPSocketHandler) {}
}

/// The driver of uTP connections on one datagram channel: it demultiplexes datagrams by connection id and
/// address to ``UTPConnection`` state machines, runs their timers on the event loop, and sends the
/// acknowledgements owed when a read burst ends (`channelReadComplete`), so that one ST_STATE answers
/// every datagram of the burst, and flushes once per burst.
///
/// Datagrams that are not uTP version 1 (a KRPC message starts with `d`, a UDP tracker reply with a 4-byte
/// action) are passed on with `fireChannelRead`, so the socket can be shared with the DHT and trackers.
///
/// The channel must read whole datagrams: uTP has no checksum or length field, so a datagram cut short by
/// a too small receive buffer decodes as a valid, shorter ST_DATA and silently corrupts the stream. NIO's
/// default allocator for datagram channels gives 2,048 bytes; with vector reads
/// (`datagramVectorReadMessageCount`) NIO splits the allocator's buffer between the messages, so give it
/// `messages x largest datagram` bytes.
///
/// All methods must be called on the channel's event loop.
public final class UTPSocketHandler: ChannelInboundHandler {
    public typealias InboundIn = AddressedEnvelope<ByteBuffer>
    public typealias InboundOut = AddressedEnvelope<ByteBuffer>
    public typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private struct Entry {
        var machine: UTPConnection
        /// Written and not yet taken by the machine, as written (chunks, so that the machine's slices of them
        /// never make an append copy the whole queue).
        var pending = CircularBuffer<ByteBuffer>()
        var pendingBytes = 0
        /// A write was refused: tell the delegate when the pending bytes are gone.
        var refused = false
        let incoming: Bool
        var connected = false
        /// ``UTPSocketHandler/close(_:)`` was called while bytes were still pending.
        var closeRequested = false
    }

    /// The configuration of every connection.
    public let configuration: UTPConfiguration
    /// The most connections at once; SYNs beyond it are ignored (libutp bounds its socket table the same way).
    public let maximumConnections: Int
    /// Whether incoming SYNs are accepted.
    public let acceptsIncoming: Bool
    /// The most bytes a connection keeps written but not yet taken into its send buffer.
    public let maximumPendingBytes: Int
    /// Set once, by the init or by ``UTPStreamMultiplexer`` (which is built around its handler).
    weak var delegate: UTPSocketDelegate?
    private var connections: [UTPConnectionID: Entry] = [:]
    private var context: ChannelHandlerContext?
    private var touched: Set<UTPConnectionID> = []
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?
    private var needsFlush = false
    /// Nesting depth of ``batchingFlushes(_:)``: while above 0, sends are written and flushed once at the end.
    private var flushBatchDepth = 0
    /// Between a read burst's first `channelRead` and its `channelReadComplete`, which flushes: writes made by
    /// delegates during the burst (``UTPSocketDelegate/utpWritable(_:socket:)``) leave with it.
    private var readingBurst = false

    /// With UDP segmentation offload (Linux): runs of datagrams of one size, at least this many bytes, to one
    /// address are written as one buffer that the kernel splits, instead of one message each; nil (the default)
    /// writes every datagram on its own. The segment size goes with each run's write
    /// (`AddressedEnvelope.Metadata.segmentSize`, a `UDP_SEGMENT` control message), not on the socket, so other
    /// users of a shared socket (the DHT) send datagrams of any size unsplit. Set it to
    /// ``UTPConfiguration/minimumDatagramSize``: full data packets are the size path MTU discovery found, at
    /// least that. It turns back to nil by itself if the kernel refuses a segmented write.
    public var segmentationSize: Int?

    private struct SegmentRun {
        let address: SocketAddress
        var buffer: ByteBuffer
        var count: Int
        let segment: Int
    }
    private var segmentRun: SegmentRun?
    /// Datagrams that arrived several to a read buffer (UDP generic receive offload) and were split here.
    public private(set) var coalescedDatagrams = 0

    /// A handler; `delegate` is held weakly.
    public init(
        configuration: UTPConfiguration = UTPConfiguration(), acceptsIncoming: Bool = true,
        maximumConnections: Int = 1024, maximumPendingBytes: Int = 4 << 20, delegate: UTPSocketDelegate
    ) {
        self.maximumPendingBytes = maximumPendingBytes
        self.configuration = configuration
        self.acceptsIncoming = acceptsIncoming
        self.maximumConnections = maximumConnections
        self.delegate = delegate
    }

    /// A handler whose delegate is set afterwards (``UTPStreamMultiplexer`` creates its handler this way).
    init(configuration: UTPConfiguration, acceptsIncoming: Bool, maximumConnections: Int, maximumPendingBytes: Int) {
        self.maximumPendingBytes = maximumPendingBytes
        self.configuration = configuration
        self.acceptsIncoming = acceptsIncoming
        self.maximumConnections = maximumConnections
    }

    /// Runs `body` with flushes held back, then flushes once: every datagram the calls in `body` send leaves in
    /// one flush, which NIO turns into one `sendmmsg` for a burst instead of one `sendmsg` per write.
    public func batchingFlushes<Result>(_ body: () throws -> Result) rethrows -> Result {
        flushBatchDepth += 1
        defer {
            flushBatchDepth -= 1
            flushIfNeeded()
        }
        return try body()
    }

    /// How many connections are open.
    public var connectionCount: Int { connections.count }

    /// The statistics of a connection.
    public func statistics(of connection: UTPConnectionID) -> UTPStatistics? {
        connections[connection]?.machine.statistics
    }

    public func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    public func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        self.context = nil
    }

    // MARK: - Commands

    /// Dials `address`: sends ST_SYN and returns the connection's id (`UTPSocketDelegate.utpConnected`
    /// follows when the peer answers, `UTPSocketDelegate.utpClosed` if it does not). Returns nil when the
    /// handler is not in a pipeline or the table is full.
    public func connect(to address: SocketAddress) -> UTPConnectionID? {
        guard context != nil, connections.count < maximumConnections else { return nil }
        var generator = SystemRandomNumberGenerator()
        var receiveID = UInt16.random(in: 0...0xffff, using: &generator)
        // The initiator receives with r and sends with r + 1; both must be free for this address.
        while connections[UTPConnectionID(address: address, receiveID: receiveID)] != nil
            || connections[UTPConnectionID(address: address, receiveID: receiveID &+ 1)] != nil
        {
            receiveID &+= 2
        }
        let id = UTPConnectionID(address: address, receiveID: receiveID)
        let (machine, actions) = UTPConnection.connect(
            configuration: configuration(for: address), receiveID: receiveID,
            initialSequence: .random(in: 0...0xffff, using: &generator), now: .now())
        connections[id] = Entry(machine: machine, incoming: false)
        perform(actions, for: id)
        flushIfNeeded()
        return id
    }

    /// Queues `bytes` on a connection (taken into its send buffer as the window allows). Returns false, and
    /// queues nothing, if the connection does not exist, is closing, or its pending bytes would exceed
    /// ``maximumPendingBytes``; ``UTPSocketDelegate/utpWritable(_:socket:)`` follows when they are gone.
    @discardableResult
    public func write(_ bytes: ByteBuffer, to connection: UTPConnectionID) -> Bool {
        guard var entry = connections[connection], !entry.closeRequested, !entry.machine.isClosing else { return false }
        guard entry.pendingBytes + bytes.readableBytes <= maximumPendingBytes else {
            connections[connection]!.refused = true
            return false
        }
        entry.pending.append(bytes)
        entry.pendingBytes += bytes.readableBytes
        connections[connection] = entry
        pump(connection, now: .now())
        flushIfNeeded()
        return true
    }

    /// Bytes written to a connection and not yet taken into its send buffer.
    public func pendingBytes(of connection: UTPConnectionID) -> Int {
        connections[connection]?.pendingBytes ?? 0
    }

    /// Closes a connection gracefully once its pending bytes are sent (ST_FIN).
    public func close(_ connection: UTPConnectionID) {
        guard var entry = connections[connection] else { return }
        if entry.pendingBytes > 0 {
            // Pending bytes still have to go into the machine first; close when they have.
            entry.closeRequested = true
            connections[connection] = entry
            return
        }
        let actions = connections[connection]!.machine.close(now: .now())
        perform(actions, for: connection)
        flushIfNeeded()
    }

    /// Ends a connection at once with ST_RESET.
    public func abort(_ connection: UTPConnectionID) {
        guard connections[connection] != nil else { return }
        let actions = connections[connection]!.machine.abort(now: .now())
        perform(actions, for: connection)
        flushIfNeeded()
    }

    // MARK: - Channel events

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        readingBurst = true
        // UDP generic receive offload (`ChannelOptions.datagramReceiveOffload`): the kernel hands over several
        // datagrams of one sender as one buffer, each `segmentSize` bytes but the last.
        guard let segment = envelope.metadata?.segmentSize, segment > 0, envelope.data.readableBytes > segment else {
            receive(envelope, data: data, context: context)
            return
        }
        var buffer = envelope.data
        while buffer.readableBytes > 0, let datagram = buffer.readSlice(length: min(segment, buffer.readableBytes)) {
            coalescedDatagrams += 1
            let single = AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: datagram)
            receive(single, data: wrapInboundOut(single), context: context)
        }
    }

    /// Handles one datagram (`data` wraps `envelope`, to pass it on as it came if it is not uTP).
    private func receive(_ envelope: AddressedEnvelope<ByteBuffer>, data: NIOAny, context: ChannelHandlerContext) {
        guard let packet = try? UTPPacket(decoding: envelope.data) else {
            context.fireChannelRead(data)
            return
        }
        let now = NIODeadline.now()
        let address = envelope.remoteAddress
        var id = UTPConnectionID(address: address, receiveID: packet.connectionID)
        if packet.type == .syn {
            // A resent SYN belongs to the connection it opened (receive id = SYN id + 1).
            let existing = UTPConnectionID(address: address, receiveID: packet.connectionID &+ 1)
            if connections[existing] != nil {
                id = existing
            } else {
                accept(packet, from: existing, now: now)
                return
            }
        } else if connections[id] == nil, packet.type == .reset {
            // libutp: a RESET may carry the id its sender receives with rather than the one we do.
            let other = UTPConnectionID(address: address, receiveID: packet.connectionID &- 1)
            if connections[other] != nil { id = other }
        }
        guard connections[id] != nil else {
            // Unknown connection: answer with ST_RESET (not to a RESET: no loops), as libutp does.
            if packet.type != .reset {
                let reset = UTPPacket(
                    type: .reset, connectionID: packet.connectionID, sequenceNumber: 0, ackNumber: packet.sequenceNumber
                )
                send(reset, to: address)
            }
            return
        }
        let actions = connections[id]!.machine.receive(packet, now: now)
        touched.insert(id)
        perform(actions, for: id)
        pump(id, now: now)
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        let now = NIODeadline.now()
        for id in touched where connections[id] != nil {
            let actions = connections[id]!.machine.flushAcknowledgement(now: now)
            perform(actions, for: id)
        }
        touched.removeAll(keepingCapacity: true)
        readingBurst = false
        flushIfNeeded()
        context.fireChannelReadComplete()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        let ids = Array(connections.keys)
        connections.removeAll()
        for id in ids { delegate?.utpClosed(id, reason: .aborted, socket: self) }
        context.fireChannelInactive()
    }

    // MARK: - Internals

    private func accept(_ syn: UTPPacket, from id: UTPConnectionID, now: NIODeadline) {
        guard acceptsIncoming, connections.count < maximumConnections else { return }
        var generator = SystemRandomNumberGenerator()
        guard
            let (machine, actions) = UTPConnection.accept(
                syn, configuration: configuration(for: id.address),
                initialSequence: .random(in: 0...0xffff, using: &generator), now: now)
        else { return }
        connections[id] = Entry(machine: machine, incoming: true)
        perform(actions, for: id)
    }

    /// The configuration of a connection with `address`: over IPv6 the IP header takes 20 bytes more of the MTU
    /// (libtorrent `mtu_for_dest`).
    private func configuration(for address: SocketAddress) -> UTPConfiguration {
        guard case .v6 = address else { return configuration }
        var configuration = configuration
        configuration.maximumDatagramSize -= 20
        configuration.minimumDatagramSize = min(configuration.minimumDatagramSize, configuration.maximumDatagramSize)
        return configuration
    }

    /// Moves pending bytes into the machine's send buffer as far as it takes them.
    private func pump(_ id: UTPConnectionID, now: NIODeadline) {
        guard var entry = connections[id] else { return }
        guard entry.pendingBytes > 0 || entry.closeRequested else { return }
        var actions: [UTPConnectionAction] = []
        if entry.pendingBytes > 0, entry.machine.writableBytes > 0 {
            connections[id] = nil  // keep the machine and the queue uniquely referenced while they mutate
            while entry.machine.writableBytes > 0, var chunk = entry.pending.popFirst() {
                let before = chunk.readableBytes
                actions += entry.machine.write(&chunk, now: now)
                entry.pendingBytes -= before - chunk.readableBytes
                if chunk.readableBytes > 0 {
                    entry.pending.prepend(chunk)
                    break
                }
            }
            connections[id] = entry
        }
        if entry.closeRequested, entry.pendingBytes == 0, !entry.machine.isClosing {
            actions += connections[id]!.machine.close(now: now)
        }
        let writable = entry.refused && entry.pendingBytes == 0
        if writable { connections[id]?.refused = false }
        perform(actions, for: id)
        if writable, connections[id] != nil { delegate?.utpWritable(id, socket: self) }
    }

    private func perform(_ actions: [UTPConnectionAction], for id: UTPConnectionID) {
        for action in actions {
            switch action {
            case .send(let packet):
                send(packet, to: id.address)
            case .connected:
                connections[id]?.connected = true
                delegate?.utpConnected(id, incoming: connections[id]?.incoming ?? false, socket: self)
            case .deliver(let bytes):
                delegate?.utpReceived(bytes, on: id, socket: self)
            case .endOfStream:
                delegate?.utpEndOfStream(on: id, socket: self)
            case .closed(let reason):
                connections[id] = nil
                delegate?.utpClosed(id, reason: reason, socket: self)
            }
        }
        scheduleTimer()
    }

    private func send(_ packet: UTPPacket, to address: SocketAddress) {
        guard let context else { return }
        let size = packet.encodedSize
        if let segment = segmentationSize, size >= segment {
            // A full datagram: appended to the run of datagrams of its size to the same address, sent as one write
            // that the kernel splits (UDP GSO), up to 64 segments and 64 KiB.
            if var run = segmentRun, run.address == address, run.segment == size, run.count < 64,
                run.buffer.readableBytes + size <= 65_000
            {
                segmentRun = nil  // keep the buffer uniquely referenced while it grows
                guard (try? packet.encode(into: &run.buffer)) != nil else { return }
                run.count += 1
                segmentRun = run
                return
            }
            writeSegmentRun()
            var buffer = context.channel.allocator.buffer(capacity: size * 16)
            guard (try? packet.encode(into: &buffer)) != nil else { return }
            segmentRun = SegmentRun(address: address, buffer: buffer, count: 1, segment: size)
            needsFlush = true
            return
        }
        writeSegmentRun()
        var buffer = context.channel.allocator.buffer(capacity: size)
        guard (try? packet.encode(into: &buffer)) != nil else { return }
        context.write(wrapOutboundOut(AddressedEnvelope(remoteAddress: address, data: buffer)), promise: nil)
        needsFlush = true
    }

    /// Writes the run of full datagrams held for segmentation offload, if any.
    private func writeSegmentRun() {
        guard let run = segmentRun, let context else { return }
        segmentRun = nil
        guard run.count > 1 else {
            context.write(
                wrapOutboundOut(AddressedEnvelope(remoteAddress: run.address, data: run.buffer)), promise: nil)
            return
        }
        let promise = context.eventLoop.makePromise(of: Void.self)
        let metadata = AddressedEnvelope<ByteBuffer>.Metadata(
            ecnState: .transportNotCapable, packetInfo: nil, segmentSize: run.segment)
        context.write(
            wrapOutboundOut(AddressedEnvelope(remoteAddress: run.address, data: run.buffer, metadata: metadata)),
            promise: promise)
        promise.futureResult.assumeIsolated().whenFailure { [self] _ in
            // The kernel refused the segmented write (a device without checksum offload answers EIO): send each
            // datagram on its own from now on; uTP resends what this write lost.
            segmentationSize = nil
        }
    }

    private func flushIfNeeded() {
        guard needsFlush, flushBatchDepth == 0, !readingBurst, let context else { return }
        writeSegmentRun()
        needsFlush = false
        context.flush()
    }

    /// One timer for the socket, at the earliest deadline of its connections.
    private func scheduleTimer() {
        guard let context else { return }
        let next = connections.values.compactMap(\.machine.nextDeadline).min()
        guard let next else {
            timer?.cancel()
            timer = nil
            timerDeadline = nil
            return
        }
        if let current = timerDeadline, current <= next, timer != nil { return }
        timer?.cancel()
        timerDeadline = next
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: next) { [self] in
            self.timer = nil
            self.timerDeadline = nil
            self.fireTimers()
        }
    }

    private func fireTimers() {
        let now = NIODeadline.now()
        for id in Array(connections.keys) {
            guard let deadline = connections[id]?.machine.nextDeadline, deadline <= now else { continue }
            let actions = connections[id]!.machine.tick(now: now)
            perform(actions, for: id)
            pump(id, now: now)
        }
        scheduleTimer()
        flushIfNeeded()
    }
}
