/// Why an MSE/PE handshake failed.
///
/// A struct with an opaque ``Code`` (cases can be added without breaking users) and a human reason,
/// like `BTWire/WireError`. The handshake machines never throw it at their driver: they return it in a
/// ``MSEAction/fail(_:)`` action, and the driver closes the connection with ``seedReason``.
public struct MSEError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure; compare against the static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The peer's public key is outside [2, P − 2].
        public static let invalidPublicKey = Code("invalidPublicKey")
        /// The initiator found no encrypted VC within 512 + 8 bytes after Yb, or the responder found no
        /// `HASH('req1', S)` within 512 + 20 bytes after Ya (seed reason `HANDSHAKE_SYNC_DH5`).
        public static let syncNotFound = Code("syncNotFound")
        /// No torrent of the responder's ``SKEYIndex`` matches `HASH('req2', SKEY)` (seed reason
        /// `HANDSHAKE_INFOHASH`).
        public static let unknownInfoHash = Code("unknownInfoHash")
        /// The decrypted verification constant is not eight zero bytes.
        public static let invalidVerificationConstant = Code("invalidVerificationConstant")
        /// PadC or PadD is announced longer than 512 bytes.
        public static let padTooLong = Code("padTooLong")
        /// The initial payload (IA) is longer than ``MSELimits/maxInitialPayloadLength``.
        public static let initialPayloadTooLong = Code("initialPayloadTooLong")
        /// `crypto_provide` and the allowed methods have nothing in common.
        public static let noCommonMethod = Code("noCommonMethod")
        /// `crypto_select` is not exactly one of the methods offered.
        public static let invalidSelection = Code("invalidSelection")
        /// The handshake did not complete within the driver's timeout (``MSEChannelHandler``: 30 s by default).
        public static let handshakeTimeout = Code("handshakeTimeout")
        /// The connection closed before the handshake completed (for an outgoing attempt under
        /// ``EncryptionPolicy/preferred``, the cue to redial in plaintext).
        public static let closedDuringHandshake = Code("closedDuringHandshake")
        /// An incoming connection opened with a plaintext BitTorrent handshake under
        /// ``EncryptionPolicy/required``.
        public static let plaintextRefused = Code("plaintextRefused")
        /// An incoming connection opened with an MSE handshake under ``EncryptionPolicy/none``.
        public static let encryptionRefused = Code("encryptionRefused")
        /// Our side wrote more than ``MSELimits/maxHeldOutputBytes`` before the handshake completed.
        public static let heldOutputTooLong = Code("heldOutputTooLong")
    }

    /// What went wrong.
    public let code: Code
    /// A human readable explanation.
    public let reason: String

    /// Creates an error.
    public init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    /// The seed's disconnect reason for this failure: `HANDSHAKE_SYNC_DH5` when the handshake could not be
    /// synchronised, `HANDSHAKE_INFOHASH` when no torrent matched, `MALFORMED_HANDSHAKE` otherwise.
    public var seedReason: String {
        switch code {
        case .syncNotFound: "HANDSHAKE_SYNC_DH5"
        case .unknownInfoHash: "HANDSHAKE_INFOHASH"
        default: "MALFORMED_HANDSHAKE"
        }
    }

    public var description: String { "MSE error \(code): \(reason)" }
}
