/// How a connection's byte stream was settled by ``MSEConnectionSetup`` (and so by ``MSEChannelHandler``):
/// what the engine records as the peer's `isEncrypted` and, for an incoming connection, which torrent the
/// MSE handshake named.
public enum MSEChannelOutcome: Sendable, Hashable {
    /// The MSE handshake completed for the torrent `skey` and RC4 carries every payload byte both ways.
    case rc4(skey: [UInt8])
    /// The MSE handshake completed for the torrent `skey` with the plaintext method: only the handshake
    /// (and the initial payload) was encrypted, the payload stream is plaintext.
    case plaintextAfterMSE(skey: [UInt8])
    /// No MSE at all: the peer opened with a plaintext BitTorrent handshake (responder), or the policy is
    /// ``EncryptionPolicy/none`` (initiator).
    case plaintext

    /// Whether RC4 carries the payload (the peer's `isEncrypted` flag).
    public var isEncrypted: Bool {
        if case .rc4 = self { return true }
        return false
    }

    /// The 20-byte SKEY (v1 info-hash or truncated v2 info-hash) the MSE handshake named, nil without MSE.
    /// For a responder this is the torrent its ``SKEYIndex`` found.
    public var skey: [UInt8]? {
        switch self {
        case .rc4(let skey), .plaintextAfterMSE(let skey): skey
        case .plaintext: nil
        }
    }
}
