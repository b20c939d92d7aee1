import NIOCore

extension PeerChannelHandler {
    /// Asks the channel for more bytes: at once, unless the peer trickles its messages (``TrickledReads``);
    /// then ``TrickledReads/spacing`` later, so that the kernel gathers its small segments into one read.
    public func read(context: ChannelHandlerContext) {
        guard let trickle, trickle.spacesReads, !isClosed else {
            context.read()
            return
        }
        guard spacedRead == nil else { return }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        spacedRead = context.eventLoop.scheduleTask(in: trickle.policy.spacing) {
            let handler = bound.value
            handler.spacedRead = nil
            guard let context = handler.context, context.channel.isActive else { return }
            context.read()
        }
    }

    /// Counts a read of `bytes` toward spacing reads out: how long the message it left incomplete has been
    /// arriving, and whether the read was small.
    func observeRead(of bytes: Int) {
        guard trickle != nil, let undecoded = withMachine({ $0.undecodedBytes() }) else { return }
        trickle!.observe(read: bytes, undecoded: undecoded, now: context?.eventLoop.now ?? .now())
    }
}
