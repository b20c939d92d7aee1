import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Full segments for blocks sent from files: the socket is corked (`TCP_CORK`) while a file region is queued.
///
/// A block sent with ``PeerChannelHandler/sendPiece(_:from:flush:)`` leaves the channel as two system calls, a
/// `write` of its 13-byte header and a `sendfile` of its 16 KiB. With `TCP_NODELAY` (every peer socket has it)
/// the header tends to become a segment of its own. Measured on loopback (a python sender and receiver, the
/// receiver with nbt's `SO_RCVLOWAT` of 256 KiB, 256 MiB in 16 KiB blocks): 10,912 segments arrived uncorked,
/// 4,831 corked, 11,380 for header and block written together from memory. Our downloader fetched a torrent
/// from an uncorked sendfile seed at half the rate of a buffered one (issue 13); tiny segments are the lead
/// suspect, not a proven cause.
///
/// The cork is put on when a file region is queued and taken off once the socket took everything queued
/// (``PeerChannelHandler/queuedOutputBytes`` back to zero), which pushes out the last partial segment at
/// once: nothing waits for the kernel's 200 ms cork limit, and messages queued behind the blocks (requests,
/// haves) go out with them. Linux only (`TCP_NOPUSH` elsewhere does not release on its own in the same way);
/// channels that are not sockets ignore the option.
extension PeerChannelHandler {
    /// `TCP_CORK`, where the system has it.
    static var corkOption: ChannelOptions.Types.SocketOption? {
        #if os(Linux)
            ChannelOptions.Types.SocketOption(level: .tcp, name: NIOBSDSocket.Option(rawValue: CInt(TCP_CORK)))
        #else
            nil
        #endif
    }

    /// Corks the socket before a file region is queued (once; it stays corked until the queue drains).
    func corkForFileRegion() {
        guard corksFileRegions, !isCorked, let option = Self.corkOption, let options = channel?.syncOptions else {
            return
        }
        isCorked = (try? options.setOption(option, value: 1)) != nil
    }

    /// Uncorks the socket once everything queued was taken by it (called as each write completes).
    func uncorkIfDrained() {
        guard isCorked, queuedOutput.bytes == 0 else { return }
        isCorked = false
        guard let option = Self.corkOption, let options = channel?.syncOptions else { return }
        try? options.setOption(option, value: 0)
    }
}
