import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The socket receive low-water mark (`SO_RCVLOWAT`) of peers that stream blocks to us.
///
/// A peer that serves a deep pipeline of our requests fills its socket in bursts of a few tens of KiB; with
/// the default watermark of one byte the event loop wakes, reads and goes back to sleep for each burst
/// (about 23,000 wake-ups per GiB from libtorrent on loopback, each a context switch). While at least
/// `streamingInFlightBytes` (2 MiB) of requested blocks are still to come, the kernel is asked to gather
/// ``streamingWatermark`` bytes before it reports the socket readable, so each wake-up reads several
/// blocks at once. Since more than the watermark is owed, a peer that keeps serving always reaches it.
///
/// A peer that stops serving (it chokes us, rejects, stalls or sends a short message and falls silent)
/// could leave a few bytes below the watermark unread; two things undo that: after every read the
/// watermark follows the requests still in flight (one byte once fewer are owed, or when the peer chokes
/// us), and on every tick a peer that sent nothing since the previous tick goes back to one byte (Linux
/// re-evaluates readiness when `SO_RCVLOWAT` changes, so already buffered bytes are then read at once).
/// Transports whose channels are not sockets ignore the option.
extension ConnectionManager {
    /// Bytes the kernel gathers before it wakes the loop for a peer that streams blocks to us.
    static let streamingWatermark = 256 * 1024
    /// Requested block bytes still owed by a peer above which its socket gets ``streamingWatermark`` (the
    /// default of `streamingInFlightBytes`).
    static let defaultStreamingInFlightBytes = 2 << 20
    /// The length of the requests the engine sends (the last block of a piece may be shorter).
    static let blockLength = 16 * 1024

    /// After a read from `connection` was processed: the watermark that suits what it still owes us.
    func adjustReceiveWatermark(_ connection: PeerConnection) {
        connection.receivedSinceTick = true
        // Per read: the machine is asked in place (``PeerConnection/machine`` would copy it).
        guard let (inFlight, choking) = connection.withMachine({ ($0.blocksInFlight, $0.peerChoking) }) else { return }
        let owed = inFlight * Self.blockLength
        let streaming = !choking && owed >= streamingInFlightBytes
        setReceiveWatermark(connection, streaming ? Self.streamingWatermark : 1)
    }

    /// On a tick: peers with a raised watermark that sent nothing since the previous tick go back to one
    /// byte, so nothing they sent waits below the watermark.
    func relaxIdleReceiveWatermarks() {
        for connection in byKey.values where connection.receiveWatermark > 1 {
            if connection.receivedSinceTick {
                connection.receivedSinceTick = false
            } else {
                setReceiveWatermark(connection, 1)
                relaxedReceiveWatermarks += 1
            }
        }
    }

    private func setReceiveWatermark(_ connection: PeerConnection, _ bytes: Int) {
        guard bytes != connection.receiveWatermark, !connection.isClosed, let channel = connection.channel else {
            return
        }
        connection.receiveWatermark = bytes
        Self.applyReceiveWatermark(bytes, to: channel)
    }

    /// Sets `SO_RCVLOWAT` of `channel`'s socket (on its event loop); channels that are not sockets ignore it.
    static func applyReceiveWatermark(_ bytes: Int, to channel: any Channel) {
        let option = ChannelOptions.Types.SocketOption(
            level: NIOBSDSocket.OptionLevel(rawValue: CInt(SOL_SOCKET)),
            name: NIOBSDSocket.Option(rawValue: SO_RCVLOWAT))
        try? channel.syncOptions?.setOption(option, value: SocketOptionValue(CInt(bytes)))
    }
}
