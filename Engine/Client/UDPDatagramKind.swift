/// What a datagram on the client's UDP socket is, told from its first and last bytes the way libtorrent's
/// `session_impl::on_udp_packet` and `utp_socket_manager::incoming_packet` tell them apart: uTP gets first
/// look (a uTP v1 header: at least 20 bytes, version 1 in the low nibble of byte 0, a type 0–4 in the high
/// nibble), then the DHT (KRPC is a bencoded dictionary: more than 20 bytes, `d` first and `e` last); anything
/// else is neither.
///
/// The handlers on the socket decide for themselves (uTP's decoder, the DHT's `d` check); this names what
/// reached the end of the pipeline unclaimed, for ``UDPUnclaimedDatagrams``' counters.
public enum UDPDatagramKind: String, Hashable, Sendable, CaseIterable {
    /// Looks like a uTP v1 packet (a uTP handler did not take it: an unknown connection it already answered,
    /// or a malformed extension chain).
    case utp
    /// Looks like a KRPC message (no DHT runs on the socket, or it passed it on).
    case krpc
    /// Neither.
    case other

    /// The kind of a datagram whose bytes are `bytes`.
    public init<Bytes: BidirectionalCollection<UInt8>>(classifying bytes: Bytes) {
        guard let first = bytes.first else {
            self = .other
            return
        }
        if bytes.count >= 20, first & 0x0f == 1, first >> 4 <= 4 {
            self = .utp
        } else if bytes.count > 20, first == UInt8(ascii: "d"), bytes.last == UInt8(ascii: "e") {
            self = .krpc
        } else {
            self = .other
        }
    }
}
