/// The version of the BTDHT module (each NetBitTorrent module is versioned on its own).
public enum BTDHTVersion {
    /// Semantic version of this module's public API.
    public static let current = "0.6.0"
}
