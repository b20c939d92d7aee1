import BTMetainfo
import BTWire
import NIOCore

/// Upload back-pressure: a peer that does not read must not make the client buffer without limit.
///
/// Each connection counts its ``PeerConnection/queuedUploadBytes``: blocks admitted and waiting for upload
/// tokens (under a rate limit) or being read from storage, plus every byte its driver handed to the channel
/// that the socket has not taken yet (``PeerChannelHandler/queuedOutputBytes``: blocks, rejects, haves and
/// every other message). A request is read only while that figure plus the block stays within
/// ``ClientConfiguration/maximumQueuedUploadBytesPerPeer`` (one block is always allowed when nothing is
/// queued); others wait, in order, in ``PeerConnection/deferredUploads`` and are read as writes complete.
/// The number of waiting requests is bounded by the wire state machine's serving queue (our `reqq`). A
/// request the peer cancels, or a choke drops, leaves these queues without being read.
extension Uploader {
    /// Bytes a block costs in the queue: its payload plus the `piece` message header.
    static func uploadCost(_ request: BlockRequest) -> Int { request.length + 13 }

    /// Whether `request` may be read now; otherwise it is queued behind the deferred ones.
    func admitsUpload(_ request: BlockRequest, to connection: PeerConnection) -> Bool {
        let cap = configuration.maximumQueuedUploadBytesPerPeer
        if connection.deferredUploads.isEmpty
            && (connection.queuedUploadBytes == 0 || connection.queuedUploadBytes + Self.uploadCost(request) <= cap)
        {
            return true
        }
        connection.deferredUploads.append(request)
        return false
    }

    /// Reads deferred requests while they fit under the cap.
    /// Blocks sent from files go out together, one flush for the lot.
    func drainDeferredUploads(_ connection: PeerConnection) {
        let cap = configuration.maximumQueuedUploadBytesPerPeer
        core.deferringFlushes {
            while !connection.isClosed, let next = connection.deferredUploads.first,
                connection.queuedUploadBytes == 0 || connection.queuedUploadBytes + Self.uploadCost(next) <= cap
            {
                connection.deferredUploads.removeFirst()
                serve(next, to: connection, admitted: true)
            }
        }
        if connection.isClosed { connection.deferredUploads.removeAll() }
    }

    /// The peer cancelled `request` (the state machine has dropped it and, with the fast extension, sent
    /// the reject BEP 6 asks for): a read not started yet is not started. A read already under way is let
    /// finish and its block dropped by the state machine (BEP 6: "requests that are being processed are
    /// allowed to complete"; the peer has its one answer, the reject).
    func dropUpload(_ request: BlockRequest, of connection: PeerConnection) {
        if let index = connection.deferredUploads.firstIndex(of: request) {
            connection.deferredUploads.remove(at: index)
        }
        if let index = connection.pendingUploads.firstIndex(of: request) {
            connection.pendingUploads.remove(at: index)
            connection.admittedUploadBytes -= Self.uploadCost(request)
            drainDeferredUploads(connection)
        }
    }

    /// Drops the waiting reads of requests the state machine no longer serves (a choke dropped or
    /// rejected them).
    func dropUnansweredUploads(of connection: PeerConnection) {
        guard let machine = connection.machine else { return }
        connection.deferredUploads.removeAll { !machine.isServing($0) }
        let before = connection.pendingUploads.count
        var refund = 0
        connection.pendingUploads.removeAll { request in
            guard !machine.isServing(request) else { return false }
            refund += Self.uploadCost(request)
            return true
        }
        guard connection.pendingUploads.count != before else { return }
        connection.admittedUploadBytes -= refund
        drainDeferredUploads(connection)
    }
}
