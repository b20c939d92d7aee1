/// libtorrent's `lt_donthave` extension message: the sender no longer has a piece (a partial seed that deleted
/// or stopped wanting a file). The payload is the piece index, a 4-byte big-endian integer, as `have`'s.
public struct DontHaveMessage: Hashable, Sendable {
    /// The piece the sender no longer has.
    public var piece: Int

    /// A message for `piece`.
    public init(piece: Int) { self.piece = piece }

    /// Decodes a payload (after the extension id).
    /// - Throws: ``WireError`` `.invalidMessageLength` unless it is 4 bytes, `.unencodable` above 2^31-1.
    public init(decoding payload: some Collection<UInt8>) throws(WireError) {
        let bytes = Array(payload)
        guard bytes.count == 4 else {
            throw WireError(.invalidMessageLength, "lt_donthave of \(bytes.count) bytes, expected 4")
        }
        let value = UInt32(bytes[0]) << 24 | UInt32(bytes[1]) << 16 | UInt32(bytes[2]) << 8 | UInt32(bytes[3])
        guard value <= UInt32(Int32.max) else { throw WireError(.unencodable, "lt_donthave piece \(value)") }
        piece = Int(value)
    }

    /// The payload (after the extension id).
    public func encoded() -> [UInt8] {
        let value = UInt32(truncatingIfNeeded: piece)
        return [
            UInt8(value >> 24), UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 8),
            UInt8(truncatingIfNeeded: value),
        ]
    }
}
