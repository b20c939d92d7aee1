/// The version of the BTMSE module (each NetBitTorrent module is versioned on its own).
public enum BTMSEVersion {
    /// Semantic version of this module's public API.
    public static let current = "0.3.0"
}
