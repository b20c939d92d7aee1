/// The bounds of the MSE/PE handshake (every one from the spec or from libtorrent's behaviour).
public enum MSELimits {
    /// The longest PadA, PadB, PadC or PadD (the spec: "random data with a random length of 0 to 512").
    public static let maxPadLength = 512
    /// The longest initial payload (IA) accepted: one BitTorrent handshake, as libtorrent bounds it.
    public static let maxInitialPayloadLength = 68
    /// The most bytes of our own output a driver holds back while the handshake runs (the BitTorrent
    /// handshake becomes the IA; the rest waits for the ciphers): the 68-byte handshake, an extension
    /// handshake and a bitfield of 500,000 pieces fit.
    public static let maxHeldOutputBytes = 64 * 1024
    /// The verification constant VC: eight zero bytes.
    public static let verificationConstant = [UInt8](repeating: 0, count: 8)
}
