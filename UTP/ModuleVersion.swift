/// The version of the BTUTP module (each NetBitTorrent module is versioned on its own).
public enum BTUTPVersion {
    /// Semantic version of this module's public API.
    public static let current = "0.4.0"
}
