import NIOCore

/// What a handshake machine asks its driver to do after an input.
public enum MSEAction: Sendable {
    /// Write these bytes to the peer, as they are (the machine has already encrypted what must be).
    case send(ByteBuffer)
    /// The handshake is done: from now on apply the result's ciphers (if any) to every byte both ways.
    case complete(MSEHandshakeResult)
    /// The handshake failed: close the connection with the error's ``MSEError/seedReason``.
    case fail(MSEError)
}

/// The outcome of a completed MSE/PE handshake.
public struct MSEHandshakeResult: Sendable {
    /// The method selected for the payload stream.
    public let method: MSECryptoMethod
    /// The 20-byte SKEY (v1 info-hash or truncated v2 info-hash) the handshake was made for; for the
    /// responder, the one found in its ``SKEYIndex``.
    public let skey: [UInt8]
    /// For ``MSECryptoMethod/rc4``: the cipher to apply to every byte sent from now on (nil for plaintext).
    public var outgoing: MSEStreamCipher?
    /// For ``MSECryptoMethod/rc4``: the cipher to apply to every byte received after those delivered in
    /// ``payload`` (nil for plaintext).
    public var incoming: MSEStreamCipher?
    /// Payload bytes that arrived with the handshake, already decrypted: for the responder the initiator's
    /// initial payload (IA, usually its BitTorrent handshake) followed by whatever came after it; for the
    /// initiator what followed PadD.
    public var payload: ByteBuffer
}
