/// One connected peer as the RPC shows it.
public struct PeerSnapshot: Sendable, Hashable {
    /// Its IP address.
    public var address: String
    /// Its port.
    public var port: Int
    /// Its client, from its peer id or extension handshake.
    public var clientName: String
    /// Transmission's flag letters (`D`, `U`, `d`, `u`, `E`, `I`, `T`, ...).
    public var flagString: String
    /// Fraction of the pieces it has.
    public var progress: Double
    /// Bytes per second it sends us.
    public var rateToClient: Double
    /// Bytes per second we send it.
    public var rateToPeer: Double
    /// It chokes us.
    public var clientIsChoked: Bool
    /// We are interested in it.
    public var clientIsInterested: Bool
    /// We choke it.
    public var peerIsChoked: Bool
    /// It is interested in us.
    public var peerIsInterested: Bool
    /// It connected to us.
    public var isIncoming: Bool
    /// The connection is encrypted (MSE).
    public var isEncrypted: Bool
    /// The connection is uTP.
    public var isUTP: Bool

    /// A peer.
    public init(
        address: String, port: Int, clientName: String, flagString: String, progress: Double, rateToClient: Double,
        rateToPeer: Double, clientIsChoked: Bool, clientIsInterested: Bool, peerIsChoked: Bool, peerIsInterested: Bool,
        isIncoming: Bool, isEncrypted: Bool, isUTP: Bool
    ) {
        self.address = address
        self.port = port
        self.clientName = clientName
        self.flagString = flagString
        self.progress = progress
        self.rateToClient = rateToClient
        self.rateToPeer = rateToPeer
        self.clientIsChoked = clientIsChoked
        self.clientIsInterested = clientIsInterested
        self.peerIsChoked = peerIsChoked
        self.peerIsInterested = peerIsInterested
        self.isIncoming = isIncoming
        self.isEncrypted = isEncrypted
        self.isUTP = isUTP
    }
}
