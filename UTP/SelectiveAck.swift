/// The selective ACK extension (BEP 29, extension type 1): a bitmask of packets received after the first
/// missing one.
///
/// Bit `i` (least significant bit of byte `i / 8` first) stands for sequence number `ack_nr + 2 + i`;
/// `ack_nr + 1` is implied missing, or it would have been acknowledged cumulatively.
///
/// BEP 29 asks for a length that is a multiple of 4 bytes, and libutp always sends 4. libtorrent sends
/// `(span + 7) / 8` bytes, any length from 1 to 255 (`utp_stream.cpp`, `write_sack`), so the decoder
/// accepts any non-zero length and ``UTPConnection`` sends multiples of 4, as BEP 29 asks.
public struct SelectiveAck: Hashable, Sendable {
    /// The bitmask bytes, 1 to 255 of them.
    public private(set) var bytes: [UInt8]

    /// The largest bitmask an extension can carry (its length is one byte).
    public static let maximumByteCount = 255

    /// A selective ACK from its bytes, or nil if there are none or more than ``maximumByteCount``.
    public init?(bytes: [UInt8]) {
        guard !bytes.isEmpty, bytes.count <= Self.maximumByteCount else { return nil }
        self.bytes = bytes
    }

    /// An empty bitmask able to describe `bitCount` packets, rounded up to whole 32-bit words (BEP 29).
    public init(bitCount: Int) {
        let words = max(1, (min(bitCount, Self.maximumByteCount / 4 * 32) + 31) / 32)
        self.bytes = [UInt8](repeating: 0, count: words * 4)
    }

    /// How many packets the bitmask describes.
    public var bitCount: Int { bytes.count * 8 }

    /// Whether the packet `offset` places after `ack_nr + 2` was received.
    public subscript(offset: Int) -> Bool {
        get {
            guard offset >= 0, offset < bitCount else { return false }
            return bytes[offset >> 3] & (1 << UInt8(offset & 7)) != 0
        }
        set {
            guard offset >= 0, offset < bitCount else { return }
            if newValue {
                bytes[offset >> 3] |= 1 << UInt8(offset & 7)
            } else {
                bytes[offset >> 3] &= ~(1 << UInt8(offset & 7))
            }
        }
    }

    /// The sequence numbers the bitmask marks received, given the packet's `ack_nr`.
    public func receivedSequenceNumbers(ackNumber: UInt16) -> [UInt16] {
        (0..<bitCount).filter { self[$0] }.map { ackNumber &+ 2 &+ UInt16(truncatingIfNeeded: $0) }
    }
}
