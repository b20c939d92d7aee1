import BTMetainfo
import NIOCore

extension PeerStateMachine.Active {
    /// Unchokes the peer (seed 001 `unchoke`).
    mutating func unchoke(now: NIODeadline, into actions: inout [PeerAction]) {
        guard link.amChoking else { return }
        link.amChoking = false
        serving.unchoked()
        send(.unchoke, now: now, into: &actions)
    }

    /// Chokes the peer (seed 001 `choke`). Queued requests are dropped; with the fast extension each one
    /// that is not for an allowed-fast piece is rejected, as BEP 6 requires.
    mutating func choke(now: NIODeadline, into actions: inout [PeerAction]) {
        guard !link.amChoking else { return }
        link.amChoking = true
        local.isOptimisticUnchoke = false
        send(.choke, now: now, into: &actions)
        let link = self.link
        let fast = link.supportsFastExtension
        let dropped = serving.choke { fast && link.allowsFast($0.piece) }
        if fast { for request in dropped { send(.reject(request), now: now, into: &actions) } }
    }

    /// How many more requests the pipeline takes now.
    mutating func requestCapacity(now: NIODeadline) -> Int {
        max(0, link.pipelineDepth(now: now, configuration: local.configuration) - requests.count)
    }

    /// Whether we may request blocks of `piece` now: the peer has it and either unchokes us or allows it fast.
    func canRequest(piece: Int) -> Bool {
        guard link.pieces[piece] else { return false }
        return !link.peerChoking || (link.supportsFastExtension && link.allowedFastFromPeer.contains(piece))
    }

    /// Requests blocks; those that cannot be requested now come back in one ``PeerAction/requestsReturned(_:)``.
    mutating func request(_ blocks: [BlockRequest], now: NIODeadline, into actions: inout [PeerAction]) {
        let configuration = local.configuration
        var refused: [BlockRequest] = []
        var capacity = requestCapacity(now: now)
        for block in blocks {
            let valid =
                block.piece >= 0 && block.piece < configuration.pieceCount && block.offset >= 0 && block.length > 0
                && block.length <= configuration.maxRequestLength
                && block.offset + block.length <= configuration.size(ofPiece: block.piece)
            guard valid, capacity > 0, canRequest(piece: block.piece), !requests.contains(block) else {
                refused.append(block)
                continue
            }
            capacity -= 1
            requests.add(block, now: now)
            send(.request(block), now: now, into: &actions)
        }
        if !refused.isEmpty { actions.append(.requestsReturned(refused)) }
    }

    /// Cancels a request in flight; a block arriving later is ignored.
    mutating func cancel(_ block: BlockRequest, now: NIODeadline, into actions: inout [PeerAction]) {
        guard requests.cancel(block) else { return }
        send(.cancel(block), now: now, into: &actions)
    }

    /// The storage read for an accepted request finished: sends the block if the peer still wants it.
    mutating func blockRead(
        _ request: BlockRequest, data: ByteBuffer, now: NIODeadline, into actions: inout [PeerAction]
    ) {
        guard serving.contains(request) else { return }
        precondition(data.readableBytes == request.length, "the block read must have the requested length")
        _ = serving.take(request)
        link.upMeter.record(request.length, at: now)
        send(.piece(Block(piece: request.piece, offset: request.offset, data: data)), now: now, into: &actions)
    }

    /// The storage read for a request failed: the request is refused (rejected with the fast extension).
    mutating func blockUnavailable(_ request: BlockRequest, now: NIODeadline, into actions: inout [PeerAction]) {
        guard serving.take(request) else { return }
        if link.supportsFastExtension { send(.reject(request), now: now, into: &actions) }
    }

    /// We now have `piece` (a valid index we lacked): tells the peer, updates interest, checks for two seeds.
    mutating func havePiece(_ piece: Int, now: NIODeadline, into actions: inout [PeerAction]) throws(PeerStateMachine
        .Closing)
    {
        local.pieces[piece] = true
        send(.have(piece: piece), now: now, into: &actions)
        updateInterest(now: now, into: &actions)
        announceUploadOnly(now: now, into: &actions)
        try checkBothSeeds()
    }

    /// Changes the pieces we want and updates interest (and BEP 21 `upload_only` when that changed).
    mutating func setWantedPieces(_ wanted: Bitfield?, now: NIODeadline, into actions: inout [PeerAction]) {
        local.setWanted(wanted)
        updateInterest(now: now, into: &actions)
        announceUploadOnly(now: now, into: &actions)
    }

    /// Suggests a piece we have (BEP 6 `suggest piece`).
    mutating func suggest(piece: Int, now: NIODeadline, into actions: inout [PeerAction]) {
        guard link.supportsFastExtension, local.pieces[piece] else { return }
        send(.suggest(piece: piece), now: now, into: &actions)
    }

    /// Lets the peer request `piece` while choked (BEP 6 `allowed fast`).
    mutating func allowFast(piece: Int, now: NIODeadline, into actions: inout [PeerAction]) {
        guard link.supportsFastExtension, piece >= 0, piece < local.configuration.pieceCount,
            link.insertAllowedFast(piece)
        else { return }
        send(.allowedFast(piece: piece), now: now, into: &actions)
    }

    /// Sends an extension message if the peer announced the extension (BEP 10); nothing otherwise.
    mutating func sendExtension(_ payload: ExtensionPayload, now: NIODeadline, into actions: inout [PeerAction]) {
        guard link.supportsExtensions, let remote = link.extensions else { return }
        let (name, bytes): (String, [UInt8]) =
            switch payload {
            case .pex(let message): (ExtensionHandshake.Name.pex, message.encoded())
            case .metadata(let message): (ExtensionHandshake.Name.metadata, message.encoded())
            case .other(let other, let data): (other, Array(data.readableBytesView))
            }
        guard let id = remote.messages[name], id != 0 else { return }
        send(.extended(ExtendedMessage(id: id, payload: ByteBuffer(bytes: bytes))), now: now, into: &actions)
    }
}
