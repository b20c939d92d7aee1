/// The random choices one side makes during a handshake, injectable so that tests (and recorded real
/// handshakes) replay deterministically.
public struct MSEHandshakeRandomness: Sendable {
    /// The Diffie-Hellman key pair (its private key is the 160-bit exponent). Computing it costs one
    /// modular exponentiation, so a driver may prepare key pairs ahead of time, off its event loop.
    public var keyPair: MSEKeyPair
    /// The 160-bit private Diffie-Hellman exponent (20 bytes, big-endian).
    public var privateKey: [UInt8] { keyPair.privateKey }
    /// PadA (initiator) or PadB (responder), sent in clear after the public key: at most 512 bytes.
    public var clearPad: [UInt8]
    /// PadC (initiator) or PadD (responder), sent encrypted: at most 512 bytes.
    public var encryptedPad: [UInt8]

    /// Fixed choices.
    ///
    /// - Precondition: a 20-byte private key and pads of at most ``MSELimits/maxPadLength`` bytes.
    public init(privateKey: [UInt8], clearPad: [UInt8], encryptedPad: [UInt8]) {
        precondition(privateKey.count == MSEKeyPair.privateKeyLength, "MSE private keys are 20 bytes")
        self.init(keyPair: MSEKeyPair(privateKey: privateKey), clearPad: clearPad, encryptedPad: encryptedPad)
    }

    /// Fixed choices around a key pair made beforehand.
    ///
    /// - Precondition: pads of at most ``MSELimits/maxPadLength`` bytes.
    public init(keyPair: MSEKeyPair, clearPad: [UInt8], encryptedPad: [UInt8]) {
        precondition(clearPad.count <= MSELimits.maxPadLength && encryptedPad.count <= MSELimits.maxPadLength)
        self.keyPair = keyPair
        self.clearPad = clearPad
        self.encryptedPad = encryptedPad
    }

    /// Choices from the system's secure random generator: a random private key, a clear pad of random
    /// length 0...512 with random content, and an empty encrypted pad (it is hidden by RC4 already, and the
    /// clear pad disguises the message lengths).
    public static func secure() -> MSEHandshakeRandomness {
        var generator = SystemRandomNumberGenerator()
        let padLength = Int.random(in: 0...MSELimits.maxPadLength, using: &generator)
        return MSEHandshakeRandomness(
            keyPair: MSEKeyPair(), clearPad: secureRandomBytes(padLength), encryptedPad: [])
    }
}

/// `count` bytes from the system's secure generator, eight per draw: one draw per byte made a `getrandom`
/// call per byte, a tenth of a handshake's time.
func secureRandomBytes(_ count: Int) -> [UInt8] {
    var generator = SystemRandomNumberGenerator()
    var bytes: [UInt8] = []
    bytes.reserveCapacity(count + 8)
    while bytes.count < count {
        withUnsafeBytes(of: generator.next()) { bytes += $0 }
    }
    return Array(bytes.prefix(count))
}
