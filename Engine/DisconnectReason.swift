import BTWire

/// Why a peer connection was refused or closed: BTWire's `BTWire.DisconnectReason` (the seed's numeric
/// `DISCONNECT_*` codes plus the protocol's and the client's policy reasons), named here so that users of
/// the engine need not import BTWire to match on it.
public typealias DisconnectReason = BTWire.DisconnectReason
