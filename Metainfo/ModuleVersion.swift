/// The version of the BTMetainfo module (each NetBitTorrent module is versioned on its own).
public enum BTMetainfoVersion {
    /// Semantic version of this module's public API.
    public static let current = "0.8.1"
}
