/// What a ``DHTNode`` asks its driver to do.
public enum DHTAction: Hashable, Sendable {
    /// Send this datagram to this endpoint.
    case send([UInt8], to: DHTEndpoint)
    /// A lookup finished.
    case lookupCompleted(DHTLookupResult)
}
