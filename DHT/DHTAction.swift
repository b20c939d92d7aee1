/// What a ``DHTNode`` asks its driver to do.
public enum DHTAction: Hashable, Sendable {
    /// Send this datagram to this endpoint.
    case send([UInt8], to: DHTEndpoint)
    /// A `get_peers` lookup received peers it had not seen yet (each peer is reported once per lookup), so
    /// a driver can dial them before the lookup ends; they are in its final result too.
    case peersFound(DHTLookupID, [DHTEndpoint])
    /// A lookup finished.
    case lookupCompleted(DHTLookupResult)
}
