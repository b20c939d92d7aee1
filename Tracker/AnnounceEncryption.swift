/// What a client tells an HTTP tracker about message stream encryption (MSE/PE), with the keys Azureus
/// introduced (libtorrent sends `supportcrypto=1` under its `announce_crypto_support` setting):
/// `supportcrypto=1` when it speaks MSE, `requirecrypto=1` when it accepts nothing else, and `cryptoport` (the
/// port that takes MSE connections; ours is the listen port). Trackers that honour them list MSE-capable peers
/// to a client that requires it. BEP 15 (UDP) has no such keys.
public enum AnnounceEncryption: Sendable, Hashable {
    /// Plaintext only: no key is sent.
    case unsupported
    /// MSE and plaintext: `supportcrypto=1`.
    case supported
    /// MSE only: `supportcrypto=1`, `requirecrypto=1` and `cryptoport`.
    case required

    /// The HTTP query parameters for a client listening on `port`.
    public func queryParameters(port: Int) -> [String] {
        switch self {
        case .unsupported: []
        case .supported: ["supportcrypto=1"]
        case .required: ["supportcrypto=1", "requirecrypto=1", "cryptoport=\(port)"]
        }
    }
}
