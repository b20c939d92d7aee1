import BTMetainfo
import BTWire
import Foundation

/// A snapshot of one connection of a torrent in a ``Client`` (see ``Client/peers(of:)``): every accessor of
/// Net::BitTorrent::Peer (seeds 000–002), as fields and as one ``flags`` set.
public struct PeerStatus: Hashable, Sendable, CustomStringConvertible {
    /// The seed 000 status flags, one bit each (`choked`, `connecting`, ... `upload_only`).
    public struct Flags: OptionSet, Hashable, Sendable {
        /// The raw bits.
        public let rawValue: UInt32
        /// Wraps raw bits.
        public init(rawValue: UInt32) { self.rawValue = rawValue }

        /// We choke the peer (seed `choked`).
        public static let choked = Flags(rawValue: 1 << 0)
        /// The connection is half-open (seed `connecting`).
        public static let connecting = Flags(rawValue: 1 << 1)
        /// Connected and waiting for the handshake (seed `handshake`).
        public static let handshake = Flags(rawValue: 1 << 2)
        /// We are interested in the peer's pieces (seed `interesting`).
        public static let interesting = Flags(rawValue: 1 << 3)
        /// We dialled the peer (seed `local_connection`).
        public static let localConnection = Flags(rawValue: 1 << 4)
        /// The peer took part in a corrupt piece (seed `on_parole`).
        public static let onParole = Flags(rawValue: 1 << 5)
        /// The peer holds the optimistic unchoke slot (seed `optimistic_unchoke`).
        public static let optimisticUnchoke = Flags(rawValue: 1 << 6)
        /// Waiting for a half-open slot (seed `queued`).
        public static let queued = Flags(rawValue: 1 << 7)
        /// The peer chokes us (seed `remote_choked`).
        public static let remoteChoked = Flags(rawValue: 1 << 8)
        /// The peer is interested in our pieces (seed `remote_interested`).
        public static let remoteInterested = Flags(rawValue: 1 << 9)
        /// The peer has every piece (seed `seed`).
        public static let seed = Flags(rawValue: 1 << 10)
        /// A request timed out (seed `snubbed`).
        public static let snubbed = Flags(rawValue: 1 << 11)
        /// The peer speaks the BEP 10 extension protocol (seed `support_extensions`).
        public static let supportsExtensions = Flags(rawValue: 1 << 12)
        /// The peer will download nothing more (seed `upload_only`).
        public static let uploadOnly = Flags(rawValue: 1 << 13)
        /// RC4 carries the payload (seed 001 `encryption`).
        public static let encrypted = Flags(rawValue: 1 << 14)
        /// Both ends speak the BEP 6 fast extension.
        public static let supportsFastExtension = Flags(rawValue: 1 << 15)

        /// The seed's names of the set flags, in the seed's order (`choked`, `local_connection`, ...).
        public var names: [String] {
            let all: [(Flags, String)] = [
                (.choked, "choked"), (.connecting, "connecting"), (.handshake, "handshake"),
                (.interesting, "interesting"), (.localConnection, "local_connection"), (.onParole, "on_parole"),
                (.optimisticUnchoke, "optimistic_unchoke"), (.queued, "queued"), (.remoteChoked, "remote_choked"),
                (.remoteInterested, "remote_interested"), (.seed, "seed"), (.snubbed, "snubbed"),
                (.supportsExtensions, "support_extensions"), (.uploadOnly, "upload_only"),
                (.encrypted, "encrypted"), (.supportsFastExtension, "fast_extension"),
            ]
            return all.filter { contains($0.0) }.map(\.1)
        }
    }

    /// How far the connection got (the seed's `queued`, `connecting`, `handshake` states).
    public enum Phase: String, Hashable, Sendable {
        /// Waiting for a slot under ``ClientConfiguration/maximumHalfOpen``.
        case queued
        /// The connection is being made.
        case connecting
        /// Connected; handshakes are being exchanged.
        case handshaking
        /// Handshakes are done and messages flow.
        case connected
    }

    /// The peer's address and port.
    public var endpoint: PeerEndpoint
    /// The peer's id, once its handshake arrived.
    public var peerID: [UInt8]?
    /// The peer connected to us.
    public var isIncoming: Bool
    /// Handshakes are done and messages flow.
    public var isActive: Bool
    /// Block payload received from the peer.
    public var downloadedBytes: Int64
    /// Block payload sent to the peer.
    public var uploadedBytes: Int64
    /// Download rate from the peer, bytes per second.
    public var downloadRate: Double
    /// Upload rate to the peer, bytes per second.
    public var uploadRate: Double
    /// The peer's requests we hold (at most ``ClientConfiguration/maximumQueuedRequestsPerPeer``).
    public var queuedRequests: Int
    /// Of those, requests waiting to be read: the peer's queued upload bytes are at the cap, or (under an
    /// upload rate limit) the tokens for them are not granted yet.
    public var deferredRequests: Int
    /// Upload bytes queued in this process for the peer: blocks being read plus `piece` messages not yet
    /// written to its socket (at most ``ClientConfiguration/maximumQueuedUploadBytesPerPeer``).
    public var queuedUploadBytes: Int
    /// We choke the peer.
    public var amChoking: Bool
    /// The peer chokes us.
    public var peerChoking: Bool
    /// The peer has every piece.
    public var isSeed: Bool
    /// How far the connection got.
    public var phase: Phase = .connecting
    /// We are interested in the peer's pieces.
    public var amInterested = false
    /// The peer is interested in ours.
    public var peerInterested = false
    /// A request timed out: the peer gets one request at a time until it delivers again.
    public var isSnubbed = false
    /// The peer took part in a corrupt piece and has not proven itself since.
    public var isOnParole = false
    /// The peer holds the choker's optimistic unchoke slot.
    public var isOptimisticUnchoke = false
    /// The peer only uploads (a seed, or BEP 21 `upload_only`).
    public var isUploadOnly = false
    /// The connection is encrypted.
    public var isEncrypted = false
    /// The peer's reputation (starts at 100; blacklisted at 50 or below).
    public var reputation = 100
    /// Both ends support the BEP 10 extension protocol.
    public var supportsExtensions = false
    /// Both ends support the BEP 6 fast extension.
    public var supportsFastExtension = false
    /// Pieces the peer has.
    public var peerPieceCount = 0
    /// The peer's client: its extension handshake's `v`, else the name its peer id encodes.
    public var client: String?
    /// The peer's pieces, one bit per piece (seed 000 `pieces`); empty (count 0) until connected.
    public var pieces = Bitfield(count: 0)
    /// The 8 reserved bytes of the peer's handshake (seed 002 `reserved`), once it arrived.
    public var reservedBytes: [UInt8]?
    /// How we learnt of the peer (seed 002 `source`: tracker, user, incoming, DHT, PEX, LSD).
    public var source: PeerSource = .incoming
    /// Our requests the peer has not answered yet.
    public var blocksInFlight = 0
    /// Pieces the peer lets us request while it chokes us (BEP 6 `allowed fast` received).
    public var allowedFastFromPeer: Set<Int> = []
    /// Pieces we let the peer request while we choke it (BEP 6 `allowed fast` sent).
    public var allowedFastToPeer: Set<Int> = []
    /// What carries the connection (seed 000: TCP or uTP peers).
    public var transport: TransportKind = .tcp

    /// Every seed 000 flag that holds, in one set.
    public var flags: Flags {
        var flags: Flags = []
        if amChoking { flags.insert(.choked) }
        switch phase {
        case .queued: flags.insert(.queued)
        case .connecting: flags.insert(.connecting)
        case .handshaking: flags.insert(.handshake)
        case .connected: break
        }
        if amInterested { flags.insert(.interesting) }
        if !isIncoming { flags.insert(.localConnection) }
        if isOnParole { flags.insert(.onParole) }
        if isOptimisticUnchoke { flags.insert(.optimisticUnchoke) }
        if peerChoking { flags.insert(.remoteChoked) }
        if peerInterested { flags.insert(.remoteInterested) }
        if isSeed { flags.insert(.seed) }
        if isSnubbed { flags.insert(.snubbed) }
        if supportsExtensions { flags.insert(.supportsExtensions) }
        if isUploadOnly { flags.insert(.uploadOnly) }
        if isEncrypted { flags.insert(.encrypted) }
        if supportsFastExtension { flags.insert(.supportsFastExtension) }
        return flags
    }

    /// One readable line (seed 002 `as_string`): address, direction, transport, client, phase, flags, pieces,
    /// rates and reputation.
    public var description: String {
        let direction = isIncoming ? "incoming" : "outgoing"
        let name = client.map { " \($0)" } ?? ""
        let rates = String(format: "down %.1f KiB/s, up %.1f KiB/s", downloadRate / 1024, uploadRate / 1024)
        return "\(endpoint) \(direction) \(transport.rawValue)\(name) [\(phase.rawValue)] "
            + "flags: \(flags.names.joined(separator: ",")); pieces \(peerPieceCount)/\(pieces.count); "
            + "\(blocksInFlight) in flight; \(rates); reputation \(reputation); source \(source.rawValue)"
    }
}
