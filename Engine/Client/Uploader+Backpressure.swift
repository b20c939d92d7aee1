import BTMetainfo
import BTWire
import NIOCore

/// Upload back-pressure and upload tokens, with one upload queue: the peer's state machine's serving queue.
///
/// A request the machine accepts waits there, unclaimed, until the uploader claims it
/// (``PeerStateMachine/claimNextRequest()``) and reads its block. Requests are claimed oldest first while two
/// bounds allow: the connection's ``PeerConnection/queuedUploadBytes`` (blocks being read plus every byte
/// its driver handed to the channel that the socket has not taken yet, ``PeerChannelHandler/queuedOutputBytes``:
/// blocks, rejects, haves and every other message) stays within
/// ``ClientConfiguration/maximumQueuedUploadBytesPerPeer`` with the block added (one block is always allowed
/// when nothing is queued); and, under an upload rate limit, the tokens the limiter granted cover the block.
/// What waits is bounded by the machine's serving queue (our `reqq`). A request the peer cancels, or a choke
/// drops, leaves the machine's queue and is never read; a read already under way finishes and the machine
/// drops its block (BEP 6: "requests that are being processed are allowed to complete"). The engine keeps
/// no list of its own, only two counters: admitted bytes and upload tokens.
extension Uploader {
    /// Bytes a block costs in the queue: its payload plus the `piece` message header.
    static func uploadCost(_ request: BlockRequest) -> Int { request.length + 13 }

    /// Whether `session`'s uploads are rate limited (by the client's limit or the torrent's); read live,
    /// since limits change while the client runs (`Client.setGlobalLimit`, `Client.setLimits`): reads then
    /// wait for the limiter's grant.
    func uploadsLimited(_ session: TorrentSession) -> Bool {
        core.rates.globalRate(.upload) != nil || session.limits.uploadLimit.bytesPerSecond != nil
    }

    /// Claims the peer's waiting requests from its serving queue, oldest first, and reads them while they
    /// fit under the byte cap and (under a rate limit) the granted tokens; then asks the limiter for the
    /// tokens the requests still waiting need. Called when a request arrives, when the socket takes bytes,
    /// when a read finishes and when tokens are granted. Blocks sent from files go out together, one flush
    /// for the lot.
    func startReads(_ connection: PeerConnection) {
        guard let session = connection.session else { return }
        let cap = configuration.maximumQueuedUploadBytesPerPeer
        let limited = uploadsLimited(session)
        core.deferringFlushes {
            while !connection.isClosed {
                // One pass over the machine per request: look, and claim when it fits.
                let queued = connection.queuedUploadBytes
                let tokens = connection.uploadTokens
                let claimed =
                    connection.withMachine { machine -> BlockRequest? in
                        guard let next = machine.nextRequestToRead,
                            queued == 0 || queued + Self.uploadCost(next) <= cap,
                            !limited || tokens >= next.length
                        else { return nil }
                        return machine.claimNextRequest()
                    } ?? nil
                guard let claimed else { break }
                if limited { connection.uploadTokens -= claimed.length }
                connection.admittedUploadBytes += Self.uploadCost(claimed)
                read(claimed, for: connection, session: session)
            }
        }
        if limited && !connection.isClosed { requestUploadTokens(connection, session: session) }
    }

    /// Under an upload rate limit: asks the limiter for the tokens the requests waiting in the serving queue
    /// need beyond those held and those the limiter still owes the peer (its own count, which it clamps to
    /// what one peer may have waiting; it hands them out fairly, a quantum per turn).
    private func requestUploadTokens(_ connection: PeerConnection, session: TorrentSession) {
        let waiting = connection.withMachine { $0.bytesWaitingToBeRead } ?? 0
        let owed = core.rates.pendingBytes(of: connection.key, direction: .upload)
        let shortfall = waiting - connection.uploadTokens - owed
        guard shortfall > 0 else { return }
        core.grant(
            core.rates.request(
                shortfall, peer: connection.key, torrent: session.handle.wireInfoHash, direction: .upload,
                now: core.instant(loop.now)))
    }

    /// The limiter granted `bytes` of upload tokens to `connection`: they pay for waiting requests.
    func uploadTokensGranted(_ bytes: Int, to connection: PeerConnection) {
        connection.uploadTokens += bytes
        startReads(connection)
    }
}
