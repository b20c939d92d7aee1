import BTMetainfo
import NIOCore

extension PeerStateMachine {
    /// The block of an accepted request is about to go out straight from a file (`sendfile(2)`, written by
    /// ``PeerChannelHandler/sendPiece(_:from:flush:)``) instead of from memory: the one answer
    /// ``blockRead(_:data:now:)`` gives, without the bytes. Returns true when the peer still wants the block
    /// (the request is taken from the serving queue and counted in the upload rate); false when it was
    /// cancelled, choked away or the connection is not active, and nothing may be sent.
    ///
    /// No packet event is reported for the block (an observer of packets needs the bytes): a driver whose
    /// configuration has ``PeerConfiguration/emitsPacketEvents`` should send with
    /// ``blockRead(_:data:now:)``.
    public mutating func blockSendingFromFile(_ request: BlockRequest, now: NIODeadline) -> Bool {
        var actions: [PeerAction] = []
        var wanted = false
        state.withActive(&actions) { active, _ in
            guard active.serving.take(request) else { return }
            active.link.upMeter.record(request.length, at: now)
            wanted = true
        }
        return wanted
    }
}
