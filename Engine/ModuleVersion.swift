/// The version of the BTEngine module (each NetBitTorrent module is versioned on its own).
public enum BTEngineVersion {
    /// Semantic version of this module's public API.
    public static let current = "0.14.0"
}
