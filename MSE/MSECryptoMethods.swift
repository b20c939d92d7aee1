/// The `crypto_provide` / `crypto_select` bit field of the MSE/PE handshake (a 32-bit big-endian field).
public struct MSECryptoMethods: OptionSet, Sendable, Hashable, CustomStringConvertible {
    /// The raw 32-bit field.
    public let rawValue: UInt32

    /// A set from the raw field.
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// 0x01: after the handshake the payload goes in plaintext (the initial payload is still RC4).
    public static let plaintext = MSECryptoMethods(rawValue: 0x01)
    /// 0x02: RC4 carries every byte of the payload stream.
    public static let rc4 = MSECryptoMethods(rawValue: 0x02)

    public var description: String {
        var names: [String] = []
        if contains(.plaintext) { names.append("plaintext") }
        if contains(.rc4) { names.append("rc4") }
        let unknown = rawValue & ~(Self.plaintext.rawValue | Self.rc4.rawValue)
        if unknown != 0 { names.append("0x" + String(unknown, radix: 16)) }
        return "[" + names.joined(separator: ", ") + "]"
    }
}

/// The one method a handshake settled on.
public enum MSECryptoMethod: Sendable, Hashable {
    /// The payload stream is plaintext.
    case plaintext
    /// The payload stream is RC4 in both directions.
    case rc4

    /// This method as a one-bit ``MSECryptoMethods`` set.
    public var bit: MSECryptoMethods { self == .rc4 ? .rc4 : .plaintext }
}
