import BTMetainfo
import NIOCore

extension PeerStateMachine {
    /// Both handshakes done; messages flow. The only state with a message decoder, request queues both
    /// ways and timers; the peer's handshake, its pieces and the features both sides set are known here
    /// (``Link``), never optional.
    struct Active: Sendable {
        /// Ours in every phase.
        var local: Local
        /// What both sides have said.
        var link: Link
        /// Frames the peer's messages.
        var decoder: PeerMessageDecoder
        /// Our requests to the peer.
        var requests = RequestPipeline()
        /// The peer's requests to us.
        var serving = ServingQueue()
        /// Counts of the incoming messages ``PeerConfiguration/inputLimits`` bound.
        private var inputBudget = InputBudget()
        /// Whether our last extension handshake said `upload_only` (BEP 21).
        var saidUploadOnly = false
        /// When either side was last interested (the useless-peer timeout).
        private var lastInterest: NIODeadline
        /// When we last sent something (keep-alives).
        private var lastSent: NIODeadline
        /// When bytes last arrived from the peer (see ``PeerConfiguration/inactivityTimeout``).
        private var lastReceived: NIODeadline

        /// The peer's `handshake` was accepted by `previous`: the connection becomes active and announces
        /// our extension handshake, our pieces and the pieces we allow fast.
        init(_ previous: Handshaking, remote handshake: Handshake, now: NIODeadline, into actions: inout [PeerAction]) {
            let configuration = previous.local.configuration
            self.local = previous.local
            self.link = Link(
                handshake: handshake, localReserved: configuration.localReserved, pieceCount: configuration.pieceCount)
            self.decoder = PeerMessageDecoder(
                limits: .init(
                    maxMessageLength: configuration.maxMessageLength,
                    maxRequestLength: configuration.maxRequestLength,
                    pieceCount: configuration.awaitsMetadata ? nil : configuration.pieceCount))
            self.lastInterest = now
            self.lastSent = previous.lastSent
            self.lastReceived = now
            greet(now: now, into: &actions)
        }

        /// Bytes of read-buffer storage the decoder keeps alive for unread bytes.
        var decoderRetainedBytes: Int { decoder.retainedStorageBytes }

        private mutating func greet(now: NIODeadline, into actions: inout [PeerAction]) {
            let configuration = local.configuration
            if link.supportsExtensions {
                var handshake = local.extensionHandshake
                saidUploadOnly = handshake.uploadOnly == true
                if handshake.yourIP == nil, let ip = configuration.remoteIPv4 { handshake.yourIP = ip }
                let payload = ByteBuffer(bytes: handshake.encoded())
                send(.extended(ExtendedMessage(id: 0, payload: payload)), now: now, into: &actions)
            }
            // BEP 9: without the info dictionary we know no piece count; availability is announced once the
            // metadata arrives (``metadataArrived(_:now:into:)``), as libtorrent does.
            guard !configuration.awaitsMetadata else { return }
            announceAvailability(now: now, into: &actions)
        }

        /// Tells the peer which pieces we have and which it may request while choked (BEP 3, BEP 6).
        mutating func announceAvailability(now: NIODeadline, into actions: inout [PeerAction]) {
            let configuration = local.configuration
            // BEP 6: with the fast extension, availability is always announced, as have all / have none when
            // possible; without it a bitfield is sent only when we have something.
            let fast = link.supportsFastExtension
            if fast && local.pieces.isAllSet {
                send(.haveAll, now: now, into: &actions)
            } else if fast && local.pieces.isNoneSet {
                send(.haveNone, now: now, into: &actions)
            } else if !local.pieces.isNoneSet {
                send(.bitfield(ByteBuffer(bytes: local.pieces.bytes)), now: now, into: &actions)
            }
            if fast, let ip = configuration.remoteIPv4, configuration.allowedFastCount > 0 {
                let set = AllowedFastSet.generate(
                    count: configuration.allowedFastCount, pieceCount: configuration.pieceCount,
                    infoHash: configuration.infoHash, ipv4: ip)
                link.reserveAllowedFast(set.count)
                for piece in set where local.pieces[piece] {
                    guard link.insertAllowedFast(piece) else { continue }
                    send(.allowedFast(piece: piece), now: now, into: &actions)
                }
            }
        }

        // MARK: Input from the peer

        /// Bytes from the peer: the whole messages in them (and in what came before) are handled, at most
        /// `limit` of them. Returns true when it stopped at `limit` (more may be buffered: call again with no
        /// bytes), so a driver can perform a large read's answers in bounded steps.
        @discardableResult
        mutating func receive(
            _ bytes: ByteBuffer, now: NIODeadline, limit: Int = .max, into actions: inout [PeerAction]
        ) throws(Closing) -> Bool {
            if bytes.readableBytes > 0 {
                lastReceived = now
                decoder.append(bytes)
            }
            var handled = 0
            while handled < limit {
                let message: PeerMessage?
                do throws(WireError) {
                    message = try decoder.next()
                } catch {
                    throw Closing(.malformedPacket, error.reason)
                }
                guard let message else { return false }
                try handle(message, now: now, into: &actions)
                handled += 1
            }
            return true
        }

        /// A message decoded by the caller.
        mutating func receive(message: PeerMessage, now: NIODeadline, into actions: inout [PeerAction]) throws(Closing)
        {
            lastReceived = now
            try handle(message, now: now, into: &actions)
        }

        private mutating func handle(_ message: PeerMessage, now: NIODeadline, into actions: inout [PeerAction])
            throws(Closing)
        {
            local.report(.packet(PacketEvent(.incoming, .message(message))), into: &actions)
            let pieceCount = local.configuration.pieceCount
            let limits = local.configuration.inputLimits
            // Kept as said until the piece count is known, and budgeted as in the active phase.
            if local.configuration.awaitsMetadata,
                try link.pending.record(
                    message, fast: link.supportsFastExtension, budget: &inputBudget, now: now, limits: limits)
            {
                return
            }
            switch message {
            case .keepAlive:
                try inputBudget.count(.keepAlive, now: now, limits: limits)
            case .choke:
                link.peerChoking = true
                actions.append(.peerChoked(true))
                // BEP 6: with the fast extension a choke does not cancel requests; rejects (or blocks) follow.
                if !link.supportsFastExtension && requests.count > 0 {
                    actions.append(.requestsReturned(requests.removeAll()))
                }
            case .unchoke:
                link.peerChoking = false
                actions.append(.peerChoked(false))
            case .interested, .notInterested:
                link.peerInterested = message == .interested
                lastInterest = now
                actions.append(.peerInterested(link.peerInterested))
            case .have(let piece):
                guard !link.pieces[piece] else {
                    // A repeated `have` changes nothing; a stream of them is a flood.
                    try inputBudget.count(.redundantHave, now: now, limits: limits)
                    return
                }
                link.pieces[piece] = true
                link.bitfieldStatus = link.pieces.isAllSet ? .all : .partial
                actions.append(.peerHas(.piece(piece)))
                try availabilityChanged(now: now, into: &actions)
            case .bitfield(let bits):
                guard let bitfield = Bitfield(bytes: bits.readableBytesView, count: pieceCount) else {
                    throw Closing(.malformedPacket, "bitfield does not match \(pieceCount) pieces")
                }
                // A bitfield after `have` messages (aria2 does this) adds to them, as libtorrent tolerates.
                // aria2 leeching over MSE sends more than 8 bitfields in 10 s as it progresses: only a bitfield
                // that adds nothing counts towards the availability budget (one that adds pieces is bounded by
                // the piece count, like `have`s).
                let union = bitfield.union(link.pieces)
                if union == link.pieces { try inputBudget.count(.availability, now: now, limits: limits) }
                link.pieces = union
                link.bitfieldStatus = link.pieces.isAllSet ? .all : (link.pieces.isNoneSet ? .none : .partial)
                actions.append(.peerHas(.pieces(link.pieces)))
                try availabilityChanged(now: now, into: &actions)
            case .haveAll, .haveNone:
                try requireFast(message)
                try inputBudget.count(.availability, now: now, limits: limits)
                let all = message == .haveAll
                link.pieces = Bitfield(count: pieceCount, allSet: all)
                link.bitfieldStatus = all ? .all : .none
                actions.append(.peerHas(all ? .all : .none))
                try availabilityChanged(now: now, into: &actions)
            case .request(let request):
                try peerRequested(request, now: now, into: &actions)
            case .piece(let block):
                guard try requests.received(block.request, now: now) else { return }
                link.downMeter.record(block.request.length, at: now)
                if link.isSnubbed {
                    link.isSnubbed = false
                    local.report(.snubbed(false), into: &actions)
                }
                actions.append(.deliver(block))
            case .cancel(let request):
                try inputBudget.count(.cancel, now: now, limits: limits)
                guard serving.take(request) else { return }
                // BEP 6: every request gets exactly one answer, a block or a reject.
                if link.supportsFastExtension { send(.reject(request), now: now, into: &actions) }
                actions.append(.requestCancelled(request))
            case .port(let port):
                link.dhtPort = port
                actions.append(.forward(message))
            case .suggest(let piece):
                try requireFast(message)
                link.suggest(piece, pieceCount: pieceCount)
            case .reject(let request):
                try requireFast(message)
                if requests.rejected(request) { actions.append(.requestsReturned([request])) }
            case .allowedFast(let piece):
                try requireFast(message)
                if piece < pieceCount && link.allowedFastFromPeer.count < 256 { link.allowedFastFromPeer.insert(piece) }
            case .extended(let extended):
                try receivedExtended(extended, now: now, into: &actions)
            case .hashRequest, .hashes, .hashReject:
                // BEP 52: answered or checked above us, but every one is counted here, with its bytes.
                try inputBudget.count(.hashMessage, now: now, limits: limits)
                try inputBudget.count(.hashBytes, 4 + message.payloadLength, now: now, limits: limits)
                actions.append(.forward(message))
            case .unknown:
                try inputBudget.count(.unknownMessage, now: now, limits: limits)
                actions.append(.forward(message))
            }
        }

        private func requireFast(_ message: PeerMessage) throws(Closing) {
            guard link.supportsFastExtension else {
                throw Closing(
                    .protocolViolation, "fast-extension message \(message.id ?? 0) without the fast extension")
            }
        }

        private mutating func receivedExtended(
            _ message: ExtendedMessage, now: NIODeadline, into actions: inout [PeerAction]
        ) throws(Closing) {
            guard link.supportsExtensions else {
                throw Closing(.protocolViolation, "extended message without the extension protocol")
            }
            // Every extension message counts, the extension handshake too (each one is decoded anew).
            let isPEX = message.id != 0 && local.extensionName(message.id) == ExtensionHandshake.Name.pex
            try inputBudget.count(isPEX ? .pex : .extensionMessage, now: now, limits: local.configuration.inputLimits)
            try inputBudget.count(
                .extensionBytes, message.payload.readableBytes + 2, now: now, limits: local.configuration.inputLimits)
            let payload = message.payload.readableBytesView
            if message.id == 0 {
                do throws(WireError) {
                    link.extensions = try ExtensionHandshake(decoding: payload)
                } catch {
                    throw Closing(.malformedPacket, error.reason)
                }
                if let flag = link.extensions?.uploadOnly { link.saysUploadOnly = flag }
                try checkBothSeeds()
                return
            }
            guard let name = local.extensionName(message.id) else {
                // BEP 10: the receiver assigns the ids in its handshake; a message of an id we never assigned
                // has no meaning. libtorrent disconnects at its first bytes (`invalid_message`), so no client
                // relies on it being ignored, and ignoring it let a trickler make us take up to 64 KiB per message.
                throw Closing(.protocolViolation, "extension message of id \(message.id), which we never assigned")
            }
            switch name {
            case ExtensionHandshake.Name.donthave:
                let piece: Int
                do throws(WireError) {
                    piece = try DontHaveMessage(decoding: payload).piece
                } catch {
                    throw Closing(.malformedPacket, error.reason)
                }
                try peerLost(piece, now: now, into: &actions)
                return
            case ExtensionHandshake.Name.uploadOnly:
                // libtorrent's `upload_only` message: one byte, the new state.
                guard payload.count == 1, let flag = payload.first else {
                    throw Closing(.malformedPacket, "upload_only message of \(payload.count) bytes, expected 1")
                }
                link.saysUploadOnly = flag != 0
                try checkBothSeeds()
                return
            default:
                break
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
                throw Closing(.malformedPacket, error.reason)
            }
        }

        private mutating func peerRequested(_ request: BlockRequest, now: NIODeadline, into actions: inout [PeerAction])
            throws(Closing)
        {
            let valid =
                local.pieces[request.piece] && request.offset >= 0
                && request.offset + request.length <= local.configuration.size(ofPiece: request.piece)
            let answer = try serving.admit(
                request, choking: link.amChoking, allowedFast: link.allowsFast(request.piece),
                fast: link.supportsFastExtension, valid: valid, configuration: local.configuration)
            switch answer {
            case .serve: actions.append(.readBlock(request))
            case .reject: send(.reject(request), now: now, into: &actions)
            case .ignore: break
            }
        }

        private mutating func availabilityChanged(now: NIODeadline, into actions: inout [PeerAction]) throws(Closing) {
            updateInterest(now: now, into: &actions)
            try checkBothSeeds()
        }

        /// Ends the connection when neither side can give the other anything: both are seeds, or upload only
        /// (BEP 21: a partial seed on either side), as libtorrent closes redundant connections.
        func checkBothSeeds() throws(Closing) {
            if local.isSeed && link.isUploadOnly { throw Closing(.bothSeeds, "we and the peer are both seeds") }
            if local.isUploadOnly && link.isUploadOnly {
                throw Closing(.bothSeeds, "we and the peer are both upload only (BEP 21)")
            }
        }

        /// libtorrent's `lt_donthave`: the peer no longer has `piece` (a partial seed deleted or un-wanted it).
        private mutating func peerLost(_ piece: Int, now: NIODeadline, into actions: inout [PeerAction])
            throws(Closing)
        {
            let pieceCount = local.configuration.pieceCount
            guard piece < pieceCount else {
                throw Closing(.malformedPacket, "lt_donthave of piece \(piece) of \(pieceCount)")
            }
            guard link.pieces[piece] else { return }
            link.pieces[piece] = false
            link.bitfieldStatus = link.pieces.isNoneSet ? .none : .partial
            actions.append(.peerHas(.pieces(link.pieces)))
            updateInterest(now: now, into: &actions)
        }

        /// Tells the peer, with a new extension handshake (BEP 10 allows one at any time), that we became
        /// upload only (BEP 21) or stopped being so, when that changed since we last said.
        mutating func announceUploadOnly(now: NIODeadline, into actions: inout [PeerAction]) {
            guard link.supportsExtensions, local.isUploadOnly != saidUploadOnly else { return }
            saidUploadOnly = local.isUploadOnly
            var handshake = local.extensionHandshake
            handshake.uploadOnly = saidUploadOnly
            if handshake.yourIP == nil, let ip = local.configuration.remoteIPv4 { handshake.yourIP = ip }
            send(
                .extended(ExtendedMessage(id: 0, payload: ByteBuffer(bytes: handshake.encoded()))), now: now,
                into: &actions)
        }

        /// With automatic interest, tells the peer whether it has a piece we want and lack, when that changed.
        mutating func updateInterest(now: NIODeadline, into actions: inout [PeerAction]) {
            guard local.configuration.automaticInterest else { return }
            let wanted = link.hasPiece(wantedBy: local)
            if wanted != link.amInterested { setInterested(wanted, now: now, into: &actions) }
        }

        /// Sends `interested` or `not interested`.
        mutating func setInterested(_ interested: Bool, now: NIODeadline, into actions: inout [PeerAction]) {
            link.amInterested = interested
            lastInterest = now
            send(interested ? .interested : .notInterested, now: now, into: &actions)
        }

        // MARK: Time

        /// Request timeout (snubbing), useless-peer and inactivity timeouts, keep-alive; releases the read
        /// buffer a partial message pins.
        mutating func tick(now: NIODeadline, into actions: inout [PeerAction]) throws(Closing) {
            let configuration = local.configuration
            decoder.compact()
            if requests.isOverdue(now: now, timeout: configuration.requestTimeout) {
                requestTimedOut(now: now, into: &actions)
            }
            if link.amInterested || link.peerInterested {
                lastInterest = now
            } else if now - lastInterest >= configuration.uselessPeerTimeout {
                throw Closing(.uselessPeer, "neither side interested")
            }
            if now - lastReceived >= configuration.inactivityTimeout {
                throw Closing(.inactive, "nothing received for \(configuration.inactivityTimeout)")
            }
            if now - lastSent >= configuration.keepAliveInterval { send(.keepAlive, now: now, into: &actions) }
        }

        private mutating func requestTimedOut(now: NIODeadline, into actions: inout [PeerAction]) {
            // Keep the oldest request (one outstanding while snubbed); give the others back to the picker.
            let keepOldest = !link.isSnubbed
            if keepOldest {
                link.isSnubbed = true
                local.report(.snubbed(true), into: &actions)
            }
            let givenUp = requests.timeOut(keepingOldest: keepOldest, now: now)
            for block in givenUp { send(.cancel(block), now: now, into: &actions) }
            if !givenUp.isEmpty { actions.append(.requestsReturned(givenUp)) }
        }

        // MARK: Output

        /// Sends `message` (and reports it to observers).
        mutating func send(_ message: PeerMessage, now: NIODeadline, into actions: inout [PeerAction]) {
            lastSent = now
            actions.append(.send(message))
            local.report(.packet(PacketEvent(.outgoing, .message(message))), into: &actions)
        }
    }
}
