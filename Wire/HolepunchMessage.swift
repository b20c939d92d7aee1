import BTMetainfo

/// A BEP 55 `ut_holepunch` extension message: a peer asks a relay to introduce it to another peer
/// (`rendezvous`), the relay tells both ends to connect to each other at once (`connect`), or says why it
/// cannot (`error`).
///
/// Layout (BEP 55; libtorrent's `bt_peer_connection::write_holepunch_msg`): message type (1 byte), address
/// type (1 byte: 0 IPv4, 1 IPv6), the address (4 or 16 bytes), the port (2 bytes, big-endian), and for an
/// error only, the error code (4 bytes, big-endian). Decoding is strict: any other length, type or address
/// type is a ``WireError`` (libtorrent ignores such a message; a driver should too, not disconnect).
public struct HolepunchMessage: Hashable, Sendable {
    /// The extension's name in the extension handshake's `m` dictionary (BEP 10, BEP 55).
    public static let extensionName = "ut_holepunch"

    /// What the message asks or tells.
    public enum Kind: UInt8, Hashable, Sendable {
        /// To a relay: connect me to the peer at the endpoint.
        case rendezvous = 0
        /// From a relay: connect to the peer at the endpoint now (it is told to connect to you).
        case connect = 1
        /// From a relay: the rendezvous for the endpoint failed, with ``ErrorCode``.
        case error = 2
    }

    /// Why a relay refused a rendezvous (BEP 55).
    public enum ErrorCode: UInt32, Hashable, Sendable {
        /// The target endpoint is not a peer the relay knows of.
        case noSuchPeer = 1
        /// The relay is not connected to the target.
        case notConnected = 2
        /// The target does not support `ut_holepunch`.
        case noSupport = 3
        /// The target is the requester itself.
        case noSelf = 4
    }

    /// The message's kind.
    public var kind: Kind
    /// The peer the message is about: the target of a rendezvous or error, the other end of a connect.
    public var endpoint: PeerEndpoint
    /// Why, for an ``Kind/error`` (nil for the other kinds).
    public var error: ErrorCode?

    /// A rendezvous request for `target`.
    public static func rendezvous(_ target: PeerEndpoint) -> HolepunchMessage {
        HolepunchMessage(kind: .rendezvous, endpoint: target, error: nil)
    }

    /// A connect instruction naming `peer`.
    public static func connect(_ peer: PeerEndpoint) -> HolepunchMessage {
        HolepunchMessage(kind: .connect, endpoint: peer, error: nil)
    }

    /// An error about the rendezvous for `target`.
    public static func error(_ code: ErrorCode, about target: PeerEndpoint) -> HolepunchMessage {
        HolepunchMessage(kind: .error, endpoint: target, error: code)
    }

    private init(kind: Kind, endpoint: PeerEndpoint, error: ErrorCode?) {
        self.kind = kind
        self.endpoint = endpoint
        self.error = error
    }

    /// The payload's bytes (after the extended message id).
    public func encoded() -> [UInt8] {
        var bytes: [UInt8] = [kind.rawValue]
        if case .v4 = endpoint.address { bytes.append(0) } else { bytes.append(1) }
        bytes += endpoint.address.bytes
        bytes += [UInt8(endpoint.port >> 8), UInt8(endpoint.port & 0xff)]
        if kind == .error, let error {
            let code = error.rawValue
            bytes += [UInt8(code >> 24), UInt8(code >> 16 & 0xff), UInt8(code >> 8 & 0xff), UInt8(code & 0xff)]
        }
        return bytes
    }

    /// Decodes a payload.
    /// - Throws: ``WireError`` (``WireError/Code/invalidExtensionPayload``) for an unknown message or address
    ///   type, an error code outside 1–4, or a length other than the layout's.
    public init(decoding payload: some Collection<UInt8>) throws(WireError) {
        let bytes = Array(payload)
        guard bytes.count >= 2 else { throw Self.invalid("\(bytes.count) bytes") }
        guard let kind = Kind(rawValue: bytes[0]) else { throw Self.invalid("message type \(bytes[0])") }
        let addressLength: Int
        switch bytes[1] {
        case 0: addressLength = 4
        case 1: addressLength = 16
        default: throw Self.invalid("address type \(bytes[1])")
        }
        let endpointEnd = 2 + addressLength + 2
        let expected = endpointEnd + (kind == .error ? 4 : 0)
        guard bytes.count == expected else { throw Self.invalid("\(bytes.count) bytes, expected \(expected)") }
        guard let address = IPAddress(bytes: bytes[2..<(2 + addressLength)]) else {
            throw Self.invalid("address bytes")
        }
        let port = UInt16(bytes[endpointEnd - 2]) << 8 | UInt16(bytes[endpointEnd - 1])
        var error: ErrorCode?
        if kind == .error {
            let code = bytes[endpointEnd..<expected].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            guard let known = ErrorCode(rawValue: code) else { throw Self.invalid("error code \(code)") }
            error = known
        }
        self.init(kind: kind, endpoint: PeerEndpoint(address: address, port: port), error: error)
    }

    private static func invalid(_ detail: String) -> WireError {
        WireError(.invalidExtensionPayload, "ut_holepunch: \(detail)")
    }
}
