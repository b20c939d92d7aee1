import BTMetainfo

/// The two BEP 55 roles as pure decisions, as libtorrent takes them (`bt_peer_connection::on_holepunch`):
/// a relay answering a `rendezvous`, and a peer deciding whether to dial the endpoint of a relay's `connect`.
public enum HolepunchRoles {
    /// What a relay knows of a rendezvous target.
    public enum Target: Hashable, Sendable {
        /// No peer at that endpoint.
        case unknown
        /// A peer we know of but are not connected to.
        case notConnected
        /// A connected peer; whether its extension handshake names `ut_holepunch`.
        case connected(supportsHolepunch: Bool)
    }

    /// A relay's answer to a rendezvous.
    public enum RelayAnswer: Hashable, Sendable {
        /// Send `connect` to both: the requester learns the target's endpoint and the target the requester's.
        case introduce(toRequester: HolepunchMessage, toTarget: HolepunchMessage)
        /// Send the requester an error.
        case refuse(HolepunchMessage)
        /// Say nothing (libtorrent: a local and a non-local peer are never bridged).
        case ignore
    }

    /// The relay's answer to `requester`'s rendezvous for `target`, given what it knows of the target.
    public static func relay(rendezvous target: PeerEndpoint, from requester: PeerEndpoint, target state: Target)
        -> RelayAnswer
    {
        if target == requester { return .refuse(.error(.noSelf, about: target)) }
        switch state {
        case .unknown: return .refuse(.error(.noSuchPeer, about: target))
        case .notConnected: return .refuse(.error(.notConnected, about: target))
        case .connected(supportsHolepunch: false): return .refuse(.error(.noSupport, about: target))
        case .connected(supportsHolepunch: true): break
        }
        guard isLocal(target.address) == isLocal(requester.address) else { return .ignore }
        return .introduce(toRequester: .connect(target), toTarget: .connect(requester))
    }

    /// The endpoint to dial for a relay's message (nil: none): only a `connect`, and a local address only from
    /// a relay that is itself local (libtorrent's rule, so a remote relay cannot aim us at our own network).
    public static func endpointToDial(for message: HolepunchMessage, from relay: IPAddress) -> PeerEndpoint? {
        guard message.kind == .connect, message.endpoint.port != 0 else { return nil }
        if isLocal(message.endpoint.address) && !isLocal(relay) { return nil }
        return message.endpoint
    }

    /// Whether an address is on a local network: loopback, private (RFC 1918, fc00::/7) or link-local.
    public static func isLocal(_ address: IPAddress) -> Bool {
        let address = address.unmapped
        let bytes = address.bytes
        if bytes.count == 4 {
            return bytes[0] == 127 || bytes[0] == 10 || (bytes[0] == 172 && bytes[1] & 0xf0 == 16)
                || (bytes[0] == 192 && bytes[1] == 168) || (bytes[0] == 169 && bytes[1] == 254)
        }
        guard bytes.count == 16 else { return false }
        let loopback = bytes.dropLast().allSatisfy { $0 == 0 } && bytes[15] == 1
        return loopback || bytes[0] & 0xfe == 0xfc || (bytes[0] == 0xfe && bytes[1] & 0xc0 == 0x80)
    }
}
