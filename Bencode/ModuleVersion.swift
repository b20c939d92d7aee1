/// The version of the BTBencode module (each NetBitTorrent module is versioned on its own).
public enum BTBencodeVersion {
    /// Semantic version of this module's public API.
    public static let current = "0.1.0"
}
