import BTMetainfo
import NIOCore

/// The per-peer protocol state machine (Net::BitTorrent::Peer of the seed documents): pure, no I/O, no clock.
///
/// Feed it what happened (bytes or messages from the peer, local commands, "the time is now T") and perform
/// the ``PeerAction``s it returns, in order. It tracks every status flag of the seeds (choking and interest
/// both ways, snubbed, parole, seed, upload-only, allowed-fast sets, suggestions, blocks in flight, rates,
/// reputation) and enforces BEP 3, 6 and 10: it keeps a request pipeline sized by the peer's `reqq` and the
/// measured rate, serves the peer's requests under BEP 6 rules, and ends the connection with a typed
/// ``DisconnectReason`` when the peer misbehaves.
///
/// ```swift
/// var peer = PeerStateMachine(configuration: config, incoming: false, source: .tracker, now: .now())
/// _ = peer.startConnecting(now: .now())
/// for action in peer.connectionEstablished(now: .now()) { perform(action) }   // sends our handshake
/// for action in peer.receive(bytes, now: .now()) { perform(action) }
/// ```
public struct PeerStateMachine: Sendable {
    /// The configuration in force.
    public let configuration: PeerConfiguration

    // MARK: Status (seeds 000, 001, 002)

    /// The connection's phase.
    public private(set) var phase: PeerPhase
    /// The peer connected to us (seed 002 `incoming`); the opposite of seed 000 `local_connection`.
    public let isIncoming: Bool
    /// How we learnt of this peer.
    public let source: PeerSource
    /// We are choking the peer (seed 000 `choked`, seed 001 `am_choking`).
    public private(set) var amChoking = true
    /// We are interested in the peer (seed 000 `interesting`, seed 001 `am_interested`).
    public private(set) var amInterested = false
    /// The peer is choking us (seed 000 `remote_choked`, seed 001 `peer_choking`).
    public private(set) var peerChoking = true
    /// The peer is interested in us (seed 000 `remote_interested`, seed 001 `peer_interested`).
    public private(set) var peerInterested = false
    /// The peer is subject to an optimistic unchoke (set by the choker).
    public var isOptimisticUnchoke = false
    /// The peer failed the request timeout; one request at a time until it delivers (seed 000 `snubbed`).
    public private(set) var isSnubbed = false
    /// The peer took part in a corrupt piece and gets whole pieces only until it proves itself (`on_parole`).
    /// The piece picker must honour it (assign this peer whole pieces no other peer shares); a verified piece
    /// from the peer ends the parole.
    public private(set) var isOnParole = false
    /// Reputation: starts at 100, +1 per verified piece, -20 per corrupt piece (seed 001).
    public private(set) var reputation = 100
    /// The reputation fell to 50 or below: do not reconnect to this peer for the session.
    public private(set) var isBlacklisted = false
    /// The pieces the peer has (seed 000 `pieces`).
    public private(set) var peerPieces: Bitfield
    /// What the peer has said about its pieces (seed 001 `bitfield_status`).
    public private(set) var bitfieldStatus: BitfieldStatus = .unknown
    /// The pieces we have.
    public private(set) var localPieces: Bitfield
    /// The pieces we want (nil: all); see ``PeerConfiguration/wantedPieces`` and ``setWantedPieces(_:now:)``.
    public private(set) var wantedPieces: Bitfield?
    /// The peer's handshake (reserved bytes and peer id), once received.
    public private(set) var remoteHandshake: Handshake?
    /// The peer's extension handshake, once received.
    public private(set) var remoteExtensions: ExtensionHandshake?
    /// Pieces the peer lets us request while it chokes us (BEP 6, received `allowed fast`).
    public private(set) var allowedFastFromPeer: Set<Int> = []
    /// Pieces we let the peer request while we choke it (BEP 6, sent `allowed fast`).
    public var allowedFastToPeer: Set<Int> { Set(allowedFastSent.lazy.map { Int($0) }) }
    /// Pieces the peer suggested (BEP 6 `suggest piece`), oldest first, at most 32.
    public private(set) var suggestedPieces: [Int] = []
    /// The peer's DHT port (BEP 5 `port`), if sent.
    public private(set) var dhtPort: UInt16?
    /// Requests sent and not yet answered.
    public var blocksInFlight: Int { inFlight.count }
    /// The peer's requests accepted and not yet served.
    public var servingQueueLength: Int { servingQueue.count }

    /// The peer's reserved bytes (seed 002 `reserved_bytes`).
    public var reservedBytes: ReservedBits? { remoteHandshake?.reserved }
    /// The peer's id (seed 002 `peerid`).
    public var peerID: PeerID? { remoteHandshake?.peerID }
    /// The connection is encrypted (seed 001 `is_encrypted`).
    public var isEncrypted: Bool { configuration.isEncrypted }
    /// Both sides set the BEP 10 bit (seed 000 `support_extensions`).
    public var supportsExtensions: Bool { negotiated(.extensionProtocol) }
    /// Both sides set the BEP 6 bit.
    public var supportsFastExtension: Bool { negotiated(.fast) }
    /// The peer has every piece (seed 000 `seed`, seed 001 `is_seeder`).
    public var isSeed: Bool { peerPieces.count > 0 && peerPieces.isAllSet }
    /// The peer will not download (explicitly, BEP 21, or by being a seed) (seed 000 `upload_only`).
    public var isUploadOnly: Bool { isSeed || remoteExtensions?.uploadOnly == true }
    /// The connection is waiting for a slot (seed 000 `queued`).
    public var isQueued: Bool { phase == .queued }
    /// The connection is half-open (seed 000 `connecting`).
    public var isConnecting: Bool { phase == .connecting }
    /// Waiting for the handshake (seed 000 `handshake`).
    public var isHandshaking: Bool { phase == .handshake }

    /// Download rate (bytes/s of block payload, rolling average).
    public mutating func rateDown(at now: NIODeadline) -> Double { downMeter.rate(at: now) }
    /// Upload rate (bytes/s of block payload, rolling average).
    public mutating func rateUp(at now: NIODeadline) -> Double { upMeter.rate(at: now) }

    /// Bytes of read-buffer storage the decoder keeps alive for unread bytes; for memory tests.
    package var decoderRetainedBytes: Int { decoder.retainedStorageBytes }
    /// Whether the rate meters hold their buckets (they have counted payload); for memory tests.
    package var hasRateBuckets: Bool { downMeter.hasBuckets || upMeter.hasBuckets }

    // MARK: Private state

    private var decoder: PeerMessageDecoder
    private var handshakeBuffer: ByteBuffer?
    private var phaseStarted: NIODeadline
    private var lastInterest: NIODeadline
    private var lastSent: NIODeadline
    /// When bytes last arrived from the peer (see ``PeerConfiguration/inactivityTimeout``).
    private var lastReceived: NIODeadline
    private var lastBlock: NIODeadline?
    private var inFlight: [BlockRequest: NIODeadline] = [:]
    private var cancelled: Set<BlockRequest> = []
    private var servingQueue: [BlockRequest] = []
    private var contributed: Set<Int> = []
    private var invalidRequests = 0
    private var excessRequests = 0
    private var downMeter = RateMeter()
    private var upMeter = RateMeter()
    /// ``allowedFastToPeer`` in the order sent: a few 4-byte entries per connection (10 by default), where a
    /// hash set costs 200 bytes.
    private var allowedFastSent: [UInt32] = []

    /// Creates a state machine for one connection. Outgoing connections start ``PeerPhase/queued``; incoming
    /// ones are already connected and start in ``PeerPhase/handshake``.
    public init(configuration: PeerConfiguration, incoming: Bool, source: PeerSource, now: NIODeadline) {
        self.configuration = configuration
        self.isIncoming = incoming
        self.source = incoming ? .incoming : source
        self.phase = incoming ? .handshake : .queued
        self.peerPieces = Bitfield(count: configuration.pieceCount)
        self.localPieces = configuration.localPieces
        self.wantedPieces =
            configuration.wantedPieces?.count == configuration.pieceCount ? configuration.wantedPieces : nil
        self.decoder = PeerMessageDecoder(
            limits: .init(
                maxMessageLength: configuration.maxMessageLength, maxRequestLength: configuration.maxRequestLength,
                pieceCount: configuration.pieceCount))
        self.phaseStarted = now
        self.lastInterest = now
        self.lastSent = now
        self.lastReceived = now
    }

    /// The extension handshake we send: the configured one (its `m` names only the extensions the user of the
    /// machine answers: none by default, so a peer never waits on a `ut_metadata` request nobody serves), with
    /// our request queue length. Derived when needed rather than stored a second time in every connection.
    private var extensionHandshake: ExtensionHandshake {
        var ext = configuration.extensionHandshake
        ext.requestQueueLength = configuration.maxServingQueue
        return ext
    }

    /// Our extension message ids (see ``extensionHandshake``).
    private var extensionMessages: [String: UInt8] { configuration.extensionHandshake.messages }

    /// We sent `allowed fast` for `piece`.
    private func allowsFast(_ piece: Int) -> Bool {
        piece >= 0 && piece <= Int(UInt32.max) && allowedFastSent.contains(UInt32(piece))
    }

    /// Adds `piece` (a valid index) to the pieces we allow fast; false when it was there already.
    private mutating func insertAllowedFast(_ piece: Int) -> Bool {
        guard !allowsFast(piece) else { return false }
        allowedFastSent.append(UInt32(piece))
        return true
    }

    /// The name of the extension message we numbered `id` in our extension handshake (0 is never one).
    private func localExtensionName(_ id: UInt8) -> String? {
        guard id != 0 else { return nil }
        return extensionMessages.first { $0.value == id }?.key
    }

    private func negotiated(_ feature: ReservedBits.Feature) -> Bool {
        configuration.localReserved[feature] && (remoteHandshake?.reserved[feature] ?? false)
    }

    private var isClosed: Bool { if case .closed = phase { true } else { false } }

    // MARK: Connection lifecycle

    /// An outgoing connection leaves the queue and starts dialling.
    public mutating func startConnecting(now: NIODeadline) -> [PeerAction] {
        guard phase == .queued else { return [] }
        phase = .connecting
        phaseStarted = now
        return []
    }

    /// The transport connected: an outgoing connection sends its handshake first.
    public mutating func connectionEstablished(now: NIODeadline) -> [PeerAction] {
        guard phase == .connecting || phase == .queued else { return [] }
        phase = .handshake
        phaseStarted = now
        var actions: [PeerAction] = []
        sendHandshake(&actions, now: now)
        return actions
    }

    /// The transport closed (by the peer: ``DisconnectReason/byRemote``) or failed (``DisconnectReason/ioError``).
    public mutating func connectionClosed(error: String? = nil, now: NIODeadline) -> [PeerAction] {
        var actions: [PeerAction] = []
        close(&actions, error == nil ? .byRemote : .ioError, error ?? "the peer closed the connection")
        return actions
    }

    /// Closes the connection on our side.
    public mutating func disconnect(_ reason: DisconnectReason = .local, detail: String = "", now: NIODeadline)
        -> [PeerAction]
    {
        var actions: [PeerAction] = []
        close(&actions, reason, detail)
        return actions
    }

    // MARK: Input from the peer

    /// Bytes received from the peer (after any decryption): decodes the handshake, then messages.
    public mutating func receive(_ bytes: ByteBuffer, now: NIODeadline) -> [PeerAction] {
        var actions: [PeerAction] = []
        guard !isClosed else { return actions }
        if bytes.readableBytes > 0 { lastReceived = now }
        var bytes = bytes
        if phase == .handshake {
            if var pending = handshakeBuffer {
                pending.writeImmutableBuffer(bytes)
                bytes = pending
                handshakeBuffer = nil
            }
            let handshake: Handshake?
            do throws(WireError) {
                handshake = try Handshake.decode(from: &bytes)
            } catch {
                close(&actions, .malformedHandshake, error.reason)
                return actions
            }
            guard let handshake else {
                handshakeBuffer = bytes
                return actions
            }
            receiveHandshake(handshake, into: &actions, now: now)
            guard phase == .active else { return actions }
        } else if phase != .active {
            return actions
        }
        if bytes.readableBytes > 0 { decoder.append(bytes) }
        while !isClosed {
            let message: PeerMessage?
            do throws(WireError) {
                message = try decoder.next()
            } catch {
                close(&actions, .malformedPacket, error.reason)
                break
            }
            guard let message else { break }
            handle(message, into: &actions, now: now)
        }
        return actions
    }

    /// A handshake decoded by the caller (e.g. after an MSE handshake chose the torrent).
    public mutating func receive(handshake: Handshake, now: NIODeadline) -> [PeerAction] {
        var actions: [PeerAction] = []
        guard phase == .handshake else { return actions }
        lastReceived = now
        receiveHandshake(handshake, into: &actions, now: now)
        return actions
    }

    /// A message decoded by the caller.
    public mutating func receive(message: PeerMessage, now: NIODeadline) -> [PeerAction] {
        var actions: [PeerAction] = []
        guard phase == .active else { return actions }
        lastReceived = now
        handle(message, into: &actions, now: now)
        return actions
    }

    private mutating func receiveHandshake(_ handshake: Handshake, into actions: inout [PeerAction], now: NIODeadline) {
        event(&actions, .packet(PacketEvent(.incoming, .handshake(handshake))))
        guard handshake.infoHash == configuration.infoHash else {
            close(
                &actions, isIncoming ? .noSuchTorrent : .handshakeInfoHashMismatch,
                "handshake for info-hash \(NetBitTorrentHex.encode(handshake.infoHash))")
            return
        }
        guard handshake.peerID != configuration.localPeerID else {
            close(&actions, .loopback, "the peer id is our own")
            return
        }
        // Its info-hash is ours (checked above): keep our array, not a copy of it per connection.
        remoteHandshake = Handshake(
            reserved: handshake.reserved, infoHash: configuration.infoHash, peerID: handshake.peerID)
        if isIncoming { sendHandshake(&actions, now: now) }
        phase = .active
        phaseStarted = now
        lastInterest = now
        if supportsExtensions {
            var ext = extensionHandshake
            if ext.yourIP == nil, let ip = configuration.remoteIPv4 { ext.yourIP = ip }
            send(&actions, .extended(ExtendedMessage(id: 0, payload: ByteBuffer(bytes: ext.encoded()))), now: now)
        }
        // BEP 6: with the fast extension, availability is always announced, as have all / have none when
        // possible; without it a bitfield is sent only when we have something.
        if supportsFastExtension && localPieces.isAllSet {
            send(&actions, .haveAll, now: now)
        } else if supportsFastExtension && localPieces.isNoneSet {
            send(&actions, .haveNone, now: now)
        } else if !localPieces.isNoneSet {
            send(&actions, .bitfield(ByteBuffer(bytes: localPieces.bytes)), now: now)
        }
        if supportsFastExtension, let ip = configuration.remoteIPv4, configuration.allowedFastCount > 0 {
            let set = AllowedFastSet.generate(
                count: configuration.allowedFastCount, pieceCount: configuration.pieceCount,
                infoHash: configuration.infoHash, ipv4: ip)
            allowedFastSent.reserveCapacity(set.count)
            for piece in set where localPieces[piece] {
                guard insertAllowedFast(piece) else { continue }
                send(&actions, .allowedFast(piece: piece), now: now)
            }
        }
    }

    private mutating func handle(_ message: PeerMessage, into actions: inout [PeerAction], now: NIODeadline) {
        event(&actions, .packet(PacketEvent(.incoming, .message(message))))
        switch message {
        case .keepAlive:
            break
        case .choke:
            peerChoking = true
            actions.append(.peerChoked(true))
            // BEP 6: with the fast extension a choke does not cancel requests; rejects (or blocks) follow.
            if !supportsFastExtension && !inFlight.isEmpty {
                let dropped = Array(inFlight.keys)
                inFlight.removeAll()
                actions.append(.requestsReturned(dropped.sorted(by: Self.order)))
            }
        case .unchoke:
            peerChoking = false
            actions.append(.peerChoked(false))
        case .interested:
            peerInterested = true
            lastInterest = now
            actions.append(.peerInterested(true))
        case .notInterested:
            peerInterested = false
            lastInterest = now
            actions.append(.peerInterested(false))
        case .have(let piece):
            guard !peerPieces[piece] else { return }  // a repeated `have` changes nothing
            peerPieces[piece] = true
            bitfieldStatus = peerPieces.isAllSet ? .all : .partial
            actions.append(.peerHas(.piece(piece)))
            availabilityChanged(&actions, now: now)
        case .bitfield(let bits):
            guard let bitfield = Bitfield(bytes: bits.readableBytesView, count: configuration.pieceCount) else {
                close(&actions, .malformedPacket, "bitfield does not match \(configuration.pieceCount) pieces")
                return
            }
            // A bitfield after `have` messages (aria2 does this) adds to them, as libtorrent tolerates.
            peerPieces = bitfield.union(peerPieces)
            bitfieldStatus = peerPieces.isAllSet ? .all : (peerPieces.isNoneSet ? .none : .partial)
            actions.append(.peerHas(.pieces(peerPieces)))
            availabilityChanged(&actions, now: now)
        case .haveAll, .haveNone:
            guard requireFast(&actions, message) else { return }
            let all = message == .haveAll
            peerPieces = Bitfield(count: configuration.pieceCount, allSet: all)
            bitfieldStatus = all ? .all : .none
            actions.append(.peerHas(all ? .all : .none))
            availabilityChanged(&actions, now: now)
        case .request(let request):
            peerRequested(request, into: &actions, now: now)
        case .piece(let block):
            receivedBlock(block, into: &actions, now: now)
        case .cancel(let request):
            if let index = servingQueue.firstIndex(of: request) {
                servingQueue.remove(at: index)
                // BEP 6: every request gets exactly one answer, a block or a reject.
                if supportsFastExtension { send(&actions, .reject(request), now: now) }
                actions.append(.requestCancelled(request))
            }
        case .port(let port):
            dhtPort = port
            actions.append(.forward(message))
        case .suggest(let piece):
            guard requireFast(&actions, message) else { return }
            if piece < configuration.pieceCount && !suggestedPieces.contains(piece) {
                suggestedPieces.append(piece)
                if suggestedPieces.count > 32 { suggestedPieces.removeFirst() }
            }
        case .reject(let request):
            guard requireFast(&actions, message) else { return }
            if inFlight.removeValue(forKey: request) != nil { actions.append(.requestsReturned([request])) }
            cancelled.remove(request)
        case .allowedFast(let piece):
            guard requireFast(&actions, message) else { return }
            if piece < configuration.pieceCount && allowedFastFromPeer.count < 256 { allowedFastFromPeer.insert(piece) }
        case .extended(let extended):
            receivedExtended(extended, into: &actions, now: now)
        case .hashRequest, .hashes, .hashReject, .unknown:
            actions.append(.forward(message))
        }
    }

    private mutating func requireFast(_ actions: inout [PeerAction], _ message: PeerMessage) -> Bool {
        guard supportsFastExtension else {
            close(&actions, .protocolViolation, "fast-extension message \(message.id ?? 0) without the fast extension")
            return false
        }
        return true
    }

    private mutating func receivedExtended(
        _ message: ExtendedMessage, into actions: inout [PeerAction], now: NIODeadline
    ) {
        guard supportsExtensions else {
            close(&actions, .protocolViolation, "extended message without the extension protocol")
            return
        }
        let payload = message.payload.readableBytesView
        if message.id == 0 {
            do throws(WireError) {
                remoteExtensions = try ExtensionHandshake(decoding: payload)
            } catch {
                close(&actions, .malformedPacket, error.reason)
                return
            }
            checkBothSeeds(&actions)
            return
        }
        guard let name = localExtensionName(message.id) else {
            actions.append(.extensionMessage(.other(name: "#\(message.id)", payload: message.payload)))
            return
        }
        do throws(WireError) {
            switch name {
            case ExtensionHandshake.Name.pex:
                actions.append(.extensionMessage(.pex(try PEXMessage(decoding: payload))))
            case ExtensionHandshake.Name.metadata:
                actions.append(.extensionMessage(.metadata(try MetadataMessage(decoding: payload))))
            default:
                actions.append(.extensionMessage(.other(name: name, payload: message.payload)))
            }
        } catch {
            close(&actions, .malformedPacket, error.reason)
        }
    }

    private mutating func receivedBlock(_ block: Block, into actions: inout [PeerAction], now: NIODeadline) {
        let request = block.request
        guard inFlight.removeValue(forKey: request) != nil else {
            // A block we cancelled (or gave up on) may still arrive: that is allowed and simply wasted.
            if cancelled.remove(request) != nil { return }
            close(&actions, .protocolViolation, "unrequested block: \(request)")
            return
        }
        lastBlock = now
        downMeter.record(request.length, at: now)
        contributed.insert(block.piece)
        if isSnubbed {
            isSnubbed = false
            event(&actions, .snubbed(false))
        }
        actions.append(.deliver(block))
    }

    private mutating func peerRequested(_ request: BlockRequest, into actions: inout [PeerAction], now: NIODeadline) {
        let fast = supportsFastExtension
        // Choked: only allowed-fast pieces may be requested (BEP 6); a request in flight when we choked is
        // normal, so it is rejected (fast) or ignored (BEP 3), not punished.
        if amChoking && !(fast && allowsFast(request.piece)) {
            if fast {
                excessRequests += 1
                if excessRequests > configuration.maxServingQueue * 2 {
                    close(&actions, .requestFlood, "\(excessRequests) requests while choked")
                    return
                }
                send(&actions, .reject(request), now: now)
            }
            return
        }
        let valid =
            localPieces[request.piece] && request.offset >= 0
            && request.offset + request.length <= configuration.size(ofPiece: request.piece)
        guard valid else {
            invalidRequests += 1
            if !fast && invalidRequests >= 2 || invalidRequests > configuration.maxInvalidRequests {
                close(&actions, .protocolViolation, "repeated requests for data we do not have (\(request))")
                return
            }
            if fast { send(&actions, .reject(request), now: now) }
            return
        }
        if servingQueue.contains(request) { return }
        guard servingQueue.count < configuration.maxServingQueue else {
            excessRequests += 1
            if !fast || excessRequests > configuration.maxServingQueue {
                close(&actions, .requestFlood, "more than \(configuration.maxServingQueue) outstanding requests")
                return
            }
            send(&actions, .reject(request), now: now)
            return
        }
        servingQueue.append(request)
        actions.append(.readBlock(request))
    }

    private mutating func availabilityChanged(_ actions: inout [PeerAction], now: NIODeadline) {
        updateInterest(&actions, now: now)
        checkBothSeeds(&actions)
    }

    private mutating func checkBothSeeds(_ actions: inout [PeerAction]) {
        if localPieces.count > 0 && localPieces.isAllSet && isUploadOnly {
            close(&actions, .bothSeeds, "we and the peer are both seeds")
        }
    }

    private mutating func updateInterest(_ actions: inout [PeerAction], now: NIODeadline) {
        guard configuration.automaticInterest, phase == .active else { return }
        let wanted = peerHasWantedPiece
        if wanted != amInterested { setInterested(wanted, into: &actions, now: now) }
    }

    /// Whether the peer has a piece we want and do not have (BEP 3 interest; libtorrent's rule too), without
    /// building intermediate bitfields: this runs on every `have`.
    public var peerHasWantedPiece: Bool {
        let peer = peerPieces.bytes
        let local = localPieces.bytes
        guard peer.count == local.count else { return false }
        if let wanted = wantedPieces?.bytes, wanted.count == peer.count {
            for index in peer.indices where peer[index] & ~local[index] & wanted[index] != 0 { return true }
        } else {
            for index in peer.indices where peer[index] & ~local[index] != 0 { return true }
        }
        return false
    }

    private mutating func setInterested(_ interested: Bool, into actions: inout [PeerAction], now: NIODeadline) {
        amInterested = interested
        lastInterest = now
        send(&actions, interested ? .interested : .notInterested, now: now)
    }

    // MARK: Local commands

    /// Unchokes the peer (seed 001 `unchoke`).
    public mutating func unchoke(now: NIODeadline) -> [PeerAction] {
        var actions: [PeerAction] = []
        guard phase == .active, amChoking else { return actions }
        amChoking = false
        excessRequests = 0
        send(&actions, .unchoke, now: now)
        return actions
    }

    /// Chokes the peer (seed 001 `choke`). Queued requests are dropped; with the fast extension each one that
    /// is not for an allowed-fast piece is rejected, as BEP 6 requires.
    public mutating func choke(now: NIODeadline) -> [PeerAction] {
        var actions: [PeerAction] = []
        guard phase == .active, !amChoking else { return actions }
        amChoking = true
        isOptimisticUnchoke = false
        send(&actions, .choke, now: now)
        if supportsFastExtension {
            let kept = servingQueue.filter { allowsFast($0.piece) }
            for request in servingQueue where !allowsFast(request.piece) {
                send(&actions, .reject(request), now: now)
            }
            servingQueue = kept
        } else {
            servingQueue.removeAll()
        }
        return actions
    }

    /// Changes the pieces we want (file priorities changed; nil: every piece) and, with
    /// ``PeerConfiguration/automaticInterest``, sends `interested` or `not interested` if that changes
    /// whether the peer has something we want. A bitfield of the wrong length is treated as nil.
    public mutating func setWantedPieces(_ wanted: Bitfield?, now: NIODeadline) -> [PeerAction] {
        var actions: [PeerAction] = []
        wantedPieces = wanted?.count == configuration.pieceCount ? wanted : nil
        updateInterest(&actions, now: now)
        return actions
    }

    /// Whether `request` from the peer is accepted and not yet answered (not served, cancelled, rejected
    /// or dropped by a choke): the driver skips reading a block that is no longer wanted.
    public func isServing(_ request: BlockRequest) -> Bool { servingQueue.contains(request) }

    /// Sets our interest by hand (seed 001 `interested` / `not_interested`); with
    /// ``PeerConfiguration/automaticInterest`` the machine also does this itself.
    public mutating func setInterested(_ interested: Bool, now: NIODeadline) -> [PeerAction] {
        var actions: [PeerAction] = []
        guard phase == .active, interested != amInterested else { return actions }
        setInterested(interested, into: &actions, now: now)
        return actions
    }

    /// How many more requests the pipeline takes now: the depth (from the peer's `reqq`, the measured rate,
    /// and 1 while snubbed) minus the blocks in flight.
    public mutating func requestCapacity(now: NIODeadline) -> Int {
        max(0, pipelineDepth(now: now) - inFlight.count)
    }

    /// The current pipeline depth: requests we keep in flight.
    public mutating func pipelineDepth(now: NIODeadline) -> Int {
        if isSnubbed { return 1 }
        let peerQueue = remoteExtensions?.requestQueueLength ?? 250
        let cap = max(1, min(configuration.maxPipelineDepth, peerQueue))
        let byRate = Int(downMeter.rate(at: now) * configuration.requestQueueSeconds / 16384)
        return min(cap, max(configuration.initialPipelineDepth, byRate))
    }

    /// Whether we may request blocks of `piece` now: the peer has it and either unchokes us or allows it fast.
    public func canRequest(piece: Int) -> Bool {
        guard phase == .active, peerPieces[piece] else { return false }
        return !peerChoking || (supportsFastExtension && allowedFastFromPeer.contains(piece))
    }

    /// Requests blocks (seed 001 `request`). Blocks that cannot be requested now (choked and not allowed
    /// fast, the peer lacks the piece, invalid address, already in flight, pipeline full) come back at once in
    /// a ``PeerAction/requestsReturned(_:)``.
    public mutating func request(_ blocks: [BlockRequest], now: NIODeadline) -> [PeerAction] {
        var actions: [PeerAction] = []
        var refused: [BlockRequest] = []
        var capacity = requestCapacity(now: now)
        for block in blocks {
            let valid =
                block.piece >= 0 && block.piece < configuration.pieceCount && block.offset >= 0 && block.length > 0
                && block.length <= configuration.maxRequestLength
                && block.offset + block.length <= configuration.size(ofPiece: block.piece)
            guard valid, capacity > 0, canRequest(piece: block.piece), inFlight[block] == nil else {
                refused.append(block)
                continue
            }
            capacity -= 1
            inFlight[block] = now
            cancelled.remove(block)
            send(&actions, .request(block), now: now)
        }
        if !refused.isEmpty { actions.append(.requestsReturned(refused)) }
        return actions
    }

    /// Cancels a request in flight (seed 004 `packet_outgoing_cancel`); a block arriving later is ignored.
    public mutating func cancel(_ block: BlockRequest, now: NIODeadline) -> [PeerAction] {
        var actions: [PeerAction] = []
        guard phase == .active, inFlight.removeValue(forKey: block) != nil else { return actions }
        rememberCancelled(block)
        send(&actions, .cancel(block), now: now)
        return actions
    }

    /// Whether `block` is requested from this peer and not yet answered.
    public func isInFlight(_ block: BlockRequest) -> Bool { inFlight[block] != nil }

    /// The storage read requested by ``PeerAction/readBlock(_:)`` finished: sends the block if the peer still
    /// wants it (not cancelled, not choked away).
    public mutating func blockRead(_ request: BlockRequest, data: ByteBuffer, now: NIODeadline) -> [PeerAction] {
        var actions: [PeerAction] = []
        guard phase == .active, let index = servingQueue.firstIndex(of: request) else { return actions }
        precondition(data.readableBytes == request.length, "the block read must have the requested length")
        servingQueue.remove(at: index)
        upMeter.record(request.length, at: now)
        send(&actions, .piece(Block(piece: request.piece, offset: request.offset, data: data)), now: now)
        return actions
    }

    /// The storage read for a request failed: the request is refused (rejected with the fast extension).
    public mutating func blockUnavailable(_ request: BlockRequest, now: NIODeadline) -> [PeerAction] {
        var actions: [PeerAction] = []
        guard phase == .active, let index = servingQueue.firstIndex(of: request) else { return actions }
        servingQueue.remove(at: index)
        if supportsFastExtension { send(&actions, .reject(request), now: now) }
        return actions
    }

    /// We now have `piece`: tells the peer (`have`), updates interest and checks for two seeds.
    public mutating func havePiece(_ piece: Int, now: NIODeadline) -> [PeerAction] {
        var actions: [PeerAction] = []
        guard piece >= 0, piece < configuration.pieceCount, !localPieces[piece] else { return actions }
        localPieces[piece] = true
        guard phase == .active else { return actions }
        send(&actions, .have(piece: piece), now: now)
        updateInterest(&actions, now: now)
        checkBothSeeds(&actions)
        return actions
    }

    /// Suggests a piece to the peer (BEP 6 `suggest piece`, seed 001 `send_suggest`).
    public mutating func suggest(piece: Int, now: NIODeadline) -> [PeerAction] {
        var actions: [PeerAction] = []
        guard phase == .active, supportsFastExtension, localPieces[piece] else { return actions }
        send(&actions, .suggest(piece: piece), now: now)
        return actions
    }

    /// Lets the peer request `piece` while choked (BEP 6 `allowed fast`, seed 001 `send_allowed_fast`).
    public mutating func allowFast(piece: Int, now: NIODeadline) -> [PeerAction] {
        var actions: [PeerAction] = []
        guard phase == .active, supportsFastExtension, piece >= 0, piece < configuration.pieceCount,
            insertAllowedFast(piece)
        else { return actions }
        send(&actions, .allowedFast(piece: piece), now: now)
        return actions
    }

    /// Sends an extension message if the peer announced the extension (BEP 10); nothing otherwise.
    public mutating func sendExtension(_ payload: ExtensionPayload, now: NIODeadline) -> [PeerAction] {
        var actions: [PeerAction] = []
        guard phase == .active, supportsExtensions, let remote = remoteExtensions else { return actions }
        let (name, bytes): (String, [UInt8]) =
            switch payload {
            case .pex(let message): (ExtensionHandshake.Name.pex, message.encoded())
            case .metadata(let message): (ExtensionHandshake.Name.metadata, message.encoded())
            case .other(let other, let data): (other, Array(data.readableBytesView))
            }
        guard let id = remote.messages[name], id != 0 else { return actions }
        send(&actions, .extended(ExtendedMessage(id: id, payload: ByteBuffer(bytes: bytes))), now: now)
        return actions
    }

    /// Changes the reputation by `delta` (seed 001 `adjust_reputation`); at 50 or below the peer is blacklisted
    /// and disconnected with ``DisconnectReason/reputation``.
    public mutating func adjustReputation(by delta: Int, now: NIODeadline) -> [PeerAction] {
        var actions: [PeerAction] = []
        guard !isClosed else { return actions }
        adjustReputation(delta, detail: "reputation adjusted by \(delta)", into: &actions)
        return actions
    }

    private mutating func adjustReputation(_ delta: Int, detail: String, into actions: inout [PeerAction]) {
        reputation += delta
        event(&actions, .reputation(reputation))
        if reputation <= 50 {
            isBlacklisted = true
            event(&actions, .blacklisted)
            close(&actions, .reputation, "\(detail): reputation \(reputation)")
        }
    }

    /// A piece this peer sent blocks for passed its hash check: reputation +1, parole ends (seed 001).
    public mutating func pieceVerified(_ piece: Int, now: NIODeadline) -> [PeerAction] {
        var actions: [PeerAction] = []
        guard contributed.remove(piece) != nil, !isClosed else { return actions }
        adjustReputation(1, detail: "verified piece \(piece)", into: &actions)
        if isOnParole {
            isOnParole = false
            event(&actions, .parole(false))
        }
        return actions
    }

    /// A piece this peer sent blocks for failed its hash check: reputation -20 and parole; at 50 or below the
    /// peer is blacklisted and disconnected (seed 001).
    public mutating func pieceFailed(_ piece: Int, now: NIODeadline) -> [PeerAction] {
        var actions: [PeerAction] = []
        guard contributed.remove(piece) != nil, !isClosed else { return actions }
        if !isOnParole {
            isOnParole = true
            event(&actions, .parole(true))
        }
        adjustReputation(-20, detail: "corrupt piece \(piece)", into: &actions)
        return actions
    }

    // MARK: Time

    /// The time is now `now`: handshake timeout, request timeout (snubbing), useless-peer timeout, keep-alive.
    public mutating func tick(now: NIODeadline) -> [PeerAction] {
        var actions: [PeerAction] = []
        switch phase {
        case .connecting, .handshake:
            if now - phaseStarted >= configuration.handshakeTimeout {
                close(&actions, .handshakeTimeout, "no handshake after \(configuration.handshakeTimeout)")
            }
        case .active:
            decoder.compact()
            if let oldest = inFlight.values.min() {
                let since = max(oldest, lastBlock ?? oldest)
                if now - since >= configuration.requestTimeout { requestTimedOut(&actions, now: now) }
            }
            if amInterested || peerInterested {
                lastInterest = now
            } else if now - lastInterest >= configuration.uselessPeerTimeout {
                close(&actions, .uselessPeer, "neither side interested")
                return actions
            }
            if now - lastReceived >= configuration.inactivityTimeout {
                close(&actions, .inactive, "nothing received for \(configuration.inactivityTimeout)")
                return actions
            }
            if now - lastSent >= configuration.keepAliveInterval { send(&actions, .keepAlive, now: now) }
        case .queued, .closed:
            break
        }
        return actions
    }

    private mutating func requestTimedOut(_ actions: inout [PeerAction], now: NIODeadline) {
        let ordered = inFlight.sorted { $0.value < $1.value || ($0.value == $1.value && Self.order($0.key, $1.key)) }
        // Keep the oldest request (one outstanding while snubbed); give the others back to the picker.
        let keep = isSnubbed ? 0 : 1
        if !isSnubbed {
            isSnubbed = true
            event(&actions, .snubbed(true))
        }
        var returned: [BlockRequest] = []
        for (block, _) in ordered.dropFirst(keep) {
            inFlight[block] = nil
            rememberCancelled(block)
            returned.append(block)
            send(&actions, .cancel(block), now: now)
        }
        if keep == 1, let first = ordered.first { inFlight[first.key] = now }
        if !returned.isEmpty { actions.append(.requestsReturned(returned)) }
    }

    // MARK: Helpers

    private mutating func sendHandshake(_ actions: inout [PeerAction], now: NIODeadline) {
        let handshake = Handshake(
            reserved: configuration.localReserved, infoHash: configuration.infoHash, peerID: configuration.localPeerID)
        lastSent = now
        actions.append(.sendHandshake(handshake))
        event(&actions, .packet(PacketEvent(.outgoing, .handshake(handshake))))
    }

    private mutating func send(_ actions: inout [PeerAction], _ message: PeerMessage, now: NIODeadline) {
        lastSent = now
        actions.append(.send(message))
        event(&actions, .packet(PacketEvent(.outgoing, .message(message))))
    }

    private func event(_ actions: inout [PeerAction], _ event: PeerEvent) {
        if case .packet = event, !configuration.emitsPacketEvents { return }
        actions.append(.event(event))
    }

    private mutating func close(_ actions: inout [PeerAction], _ reason: DisconnectReason, _ detail: String) {
        guard !isClosed else { return }
        phase = .closed(reason)
        if !inFlight.isEmpty { actions.append(.requestsReturned(inFlight.keys.sorted(by: Self.order))) }
        inFlight.removeAll()
        servingQueue.removeAll()
        handshakeBuffer = nil
        decoder = PeerMessageDecoder(limits: decoder.limits)
        actions.append(.disconnect(reason, detail: detail))
    }

    /// Remembers a cancelled request so that its block, if it still arrives, is not taken for a lie. Bounded:
    /// a peer that never answers cancels cannot make this grow without limit.
    private mutating func rememberCancelled(_ block: BlockRequest) {
        if cancelled.count >= 4096 { cancelled.removeAll() }
        cancelled.insert(block)
    }

    static func order(_ a: BlockRequest, _ b: BlockRequest) -> Bool {
        (a.piece, a.offset, a.length) < (b.piece, b.offset, b.length)
    }
}
