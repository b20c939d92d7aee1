/// The random choices one side makes during a handshake, injectable so that tests (and recorded real
/// handshakes) replay deterministically.
public struct MSEHandshakeRandomness: Sendable {
    /// The 160-bit private Diffie-Hellman exponent (20 bytes, big-endian).
    public var privateKey: [UInt8]
    /// PadA (initiator) or PadB (responder), sent in clear after the public key: at most 512 bytes.
    public var clearPad: [UInt8]
    /// PadC (initiator) or PadD (responder), sent encrypted: at most 512 bytes.
    public var encryptedPad: [UInt8]

    /// Fixed choices.
    ///
    /// - Precondition: a 20-byte private key and pads of at most ``MSELimits/maxPadLength`` bytes.
    public init(privateKey: [UInt8], clearPad: [UInt8], encryptedPad: [UInt8]) {
        precondition(privateKey.count == MSEKeyPair.privateKeyLength, "MSE private keys are 20 bytes")
        precondition(clearPad.count <= MSELimits.maxPadLength && encryptedPad.count <= MSELimits.maxPadLength)
        self.privateKey = privateKey
        self.clearPad = clearPad
        self.encryptedPad = encryptedPad
    }

    /// Choices from the system's secure random generator: a random private key, a clear pad of random
    /// length 0...512 with random content, and an empty encrypted pad (as libtorrent sends: it is already
    /// hidden by RC4, so its only use would be to disguise lengths the clear pad already disguises).
    public static func secure() -> MSEHandshakeRandomness {
        var generator = SystemRandomNumberGenerator()
        let key = (0..<MSEKeyPair.privateKeyLength).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let padLength = Int.random(in: 0...MSELimits.maxPadLength, using: &generator)
        let pad = (0..<padLength).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return MSEHandshakeRandomness(privateKey: key, clearPad: pad, encryptedPad: [])
    }
}
