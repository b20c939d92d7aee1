/// The version of the BTStorage module (each NetBitTorrent module is versioned on its own).
public enum BTStorageVersion {
    /// Semantic version of this module's public API.
    public static let current = "0.9.0"
}
