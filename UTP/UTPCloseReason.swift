/// Why a uTP connection ended: a struct with an opaque code, so new reasons can be added without breaking
/// users (like ``UTPError``).
public struct UTPCloseReason: Hashable, Sendable, CustomStringConvertible {
    let name: String
    init(_ name: String) { self.name = name }
    public var description: String { name }

    /// Both sides sent ST_FIN and had it acknowledged (or the peer's FIN never came within the linger time).
    public static let finished = UTPCloseReason("finished")
    /// The peer sent ST_RESET.
    public static let reset = UTPCloseReason("reset")
    /// The SYN was never answered, or the initiator of an accepted connection never sent data.
    public static let connectTimedOut = UTPCloseReason("connectTimedOut")
    /// Too many consecutive retransmission timeouts.
    public static let timedOut = UTPCloseReason("timedOut")
    /// A hole in the peer's stream stayed open and nothing came from the peer for
    /// ``UTPConfiguration/silentPeerTimeout``: the sender gave up (libtorrent does, silently, after 3 losses of
    /// one packet).
    public static let peerSilent = UTPCloseReason("peerSilent")
    /// Nothing received for ``UTPConfiguration/idleTimeout``.
    public static let idle = UTPCloseReason("idle")
    /// This side ended the connection with ``UTPConnection/abort(now:)``.
    public static let aborted = UTPCloseReason("aborted")
}
