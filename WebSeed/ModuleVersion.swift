/// The version of the BTWebSeed module (each NetBitTorrent module is versioned on its own).
public enum BTWebSeedVersion {
    /// Semantic version of this module's public API.
    public static let current = "0.2.0"
}
