/// The version of the BTSimulator module (each NetBitTorrent module is versioned on its own).
public enum BTSimulatorVersion {
    /// Semantic version of this module's public API.
    public static let current = "0.4.0"
}
