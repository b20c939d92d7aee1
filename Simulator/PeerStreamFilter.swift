import NIOCore

/// Rewrites one direction of a simulated connection's byte stream (the BitTorrent handshake, then
/// length-prefixed messages, BEP 3) for a peer's ``PeerBehaviour``, and counts the payload bytes of `piece`
/// blocks in it. Streaming: messages may be split across writes anywhere; at most a 5-byte message header is
/// held back (until its id says whether the message is dropped), so memory stays bounded.
struct PeerStreamFilter {
    /// What the filter does to the stream.
    let behaviour: PeerBehaviour
    private var handshakeLeft = 68
    private var header: [UInt8] = []
    private var bodyLeft = 0
    private var dropping = false
    private var pieceHeaderLeft = 0
    private var inPiece = false

    init(behaviour: PeerBehaviour) { self.behaviour = behaviour }

    /// The bytes to transmit for `input` and how many of them are `piece` block payload.
    mutating func filter(_ input: ByteBuffer) -> (output: ByteBuffer, blockBytes: Int) {
        var output = ByteBufferAllocator().buffer(capacity: input.readableBytes)
        var blockBytes = 0
        var bytes = input.readableBytesView[...]
        while !bytes.isEmpty {
            if handshakeLeft > 0 {
                let take = min(handshakeLeft, bytes.count)
                output.writeBytes(bytes.prefix(take))
                bytes = bytes.dropFirst(take)
                handshakeLeft -= take
                continue
            }
            if bodyLeft == 0 {
                header.append(bytes.first!)
                bytes = bytes.dropFirst()
                if header.count == 4 {
                    let length = header.reduce(0) { $0 << 8 | Int($1) }
                    if length == 0 {  // keep-alive
                        output.writeBytes(header)
                        header = []
                    }
                } else if header.count == 5 {
                    let length = header[0..<4].reduce(0) { $0 << 8 | Int($1) }
                    let id = header[4]
                    dropping = behaviour == .freeRider && (id == 1 || id == 17)
                    if !dropping { output.writeBytes(header) }
                    inPiece = id == 7
                    pieceHeaderLeft = inPiece ? 8 : 0
                    bodyLeft = length - 1
                    header = []
                }
                continue
            }
            let take = min(bodyLeft, bytes.count)
            let run = bytes.prefix(take)
            bytes = bytes.dropFirst(take)
            bodyLeft -= take
            if dropping { continue }
            if inPiece {
                let headerPart = min(pieceHeaderLeft, run.count)
                output.writeBytes(run.prefix(headerPart))
                pieceHeaderLeft -= headerPart
                let block = run.dropFirst(headerPart)
                blockBytes += block.count
                if behaviour == .liar {
                    output.writeBytes(block.map { $0 ^ 0x5A })
                } else {
                    output.writeBytes(block)
                }
            } else {
                output.writeBytes(run)
            }
        }
        return (output, blockBytes)
    }
}
