import BTBencode

/// A BEP 9 `ut_metadata` message: asks for, delivers or refuses one 16 KiB piece of the info dictionary.
public enum MetadataMessage: Hashable, Sendable {
    /// `msg_type` 0: please send metadata piece `piece`.
    case request(piece: Int)
    /// `msg_type` 1: metadata piece `piece` of an info dictionary of `totalSize` bytes; `data` follows the
    /// dictionary in the payload (16 KiB except for the last piece).
    case data(piece: Int, totalSize: Int, data: [UInt8])
    /// `msg_type` 2: the sender will not send piece `piece`.
    case reject(piece: Int)

    /// Size of a metadata piece (BEP 9).
    public static let pieceSize = 16 * 1024

    /// Limits applied when decoding.
    public struct Limits: Hashable, Sendable {
        /// Largest `total_size` accepted (bytes).
        public var maxTotalSize: Int
        /// Creates limits.
        public init(maxTotalSize: Int = 64 << 20) { self.maxTotalSize = maxTotalSize }
    }

    /// The metadata piece this message is about.
    public var piece: Int {
        switch self {
        case .request(let piece), .data(let piece, _, _), .reject(let piece): piece
        }
    }

    /// Decodes a payload: a bencoded dictionary, followed by the piece's bytes for `data` only.
    public init(decoding payload: some Collection<UInt8>, limits: Limits = Limits()) throws(WireError) {
        let bytes = Array(payload)
        let decoded: (document: BencodeDocument, consumed: Int)
        do throws(BencodeError) {
            decoded = try BencodeDocument.decodePrefix(bytes, options: ExtensionCodec.options)
        } catch {
            throw WireError(.invalidExtensionPayload, "ut_metadata: \(error.reason)")
        }
        let root = decoded.document.root
        let consumed = decoded.consumed
        guard root.kind == .dictionary, let type = root["msg_type"]?.integer, let piece = root["piece"]?.integer
        else {
            throw WireError(.invalidExtensionPayload, "ut_metadata without integer msg_type and piece")
        }
        let maxPiece = (limits.maxTotalSize + Self.pieceSize - 1) / Self.pieceSize
        guard piece >= 0, piece < Int64(maxPiece) else {
            throw WireError(.extensionLimitExceeded, "ut_metadata piece \(piece) is out of bounds")
        }
        let trailing = bytes.count - consumed
        switch type {
        case 0, 2:
            guard trailing == 0 else {
                throw WireError(.invalidExtensionPayload, "ut_metadata request/reject followed by \(trailing) bytes")
            }
            self = type == 0 ? .request(piece: Int(piece)) : .reject(piece: Int(piece))
        case 1:
            guard let total = root["total_size"]?.integer, total > 0, total <= Int64(limits.maxTotalSize) else {
                throw WireError(.extensionLimitExceeded, "ut_metadata data without a sane total_size")
            }
            let pieceCount = (Int(total) + Self.pieceSize - 1) / Self.pieceSize
            let expected =
                piece < Int64(pieceCount - 1) ? Self.pieceSize : Int(total) - (pieceCount - 1) * Self.pieceSize
            guard piece < Int64(pieceCount), trailing == expected else {
                throw WireError(
                    .invalidExtensionPayload,
                    "ut_metadata piece \(piece) carries \(trailing) bytes of a \(total)-byte dictionary")
            }
            self = .data(piece: Int(piece), totalSize: Int(total), data: Array(bytes[consumed...]))
        default:
            throw WireError(.invalidExtensionPayload, "ut_metadata msg_type \(type) is unknown")
        }
    }

    /// The payload: canonical dictionary, then the data for `data` messages.
    public func encoded() -> [UInt8] {
        switch self {
        case .request(let piece):
            let value: BencodeValue = ["msg_type": 0, "piece": .integer(Int64(piece))]
            return value.encoded()
        case .reject(let piece):
            let value: BencodeValue = ["msg_type": 2, "piece": .integer(Int64(piece))]
            return value.encoded()
        case .data(let piece, let totalSize, let data):
            let header: BencodeValue = [
                "msg_type": 1, "piece": .integer(Int64(piece)), "total_size": .integer(Int64(totalSize)),
            ]
            return header.encoded() + data
        }
    }
}
