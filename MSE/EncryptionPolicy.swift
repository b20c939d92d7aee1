/// Whether a client or torrent speaks MSE/PE (seed 001's `encryption` parameter).
public enum EncryptionPolicy: String, Sendable, Hashable, CaseIterable {
    /// Plaintext only: never start MSE, refuse incoming MSE handshakes.
    case none
    /// Offer RC4 and plaintext and select RC4 when offered; fall back to a plaintext connection when the
    /// peer does not speak MSE; accept both kinds incoming.
    case preferred
    /// RC4 only: refuse plaintext both ways.
    case required

    /// The methods offered in `crypto_provide` (initiator) or accepted from it (responder), or nil when
    /// MSE is not used at all.
    public var cryptoMethods: MSECryptoMethods? {
        switch self {
        case .none: nil
        case .preferred: [.plaintext, .rc4]
        case .required: .rc4
        }
    }
}
