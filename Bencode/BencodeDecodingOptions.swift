/// Limits and leniency for ``BencodeDocument`` decoding.
public struct BencodeDecodingOptions: Sendable, Hashable {
    /// Accept dictionaries whose keys are not in ascending order (real-world torrents have them).
    /// Adjacent duplicate keys are still rejected; the original bytes of every value are kept either way.
    public var allowUnsortedKeys: Bool
    /// Maximum nesting of lists and dictionaries. libtorrent uses 100.
    public var maxDepth: Int
    /// Maximum number of values (integers, strings, lists, dictionaries) in one document.
    public var maxTokens: Int

    /// Creates options.
    public init(allowUnsortedKeys: Bool = false, maxDepth: Int = 100, maxTokens: Int = 4_000_000) {
        self.allowUnsortedKeys = allowUnsortedKeys
        self.maxDepth = maxDepth
        self.maxTokens = maxTokens
    }

    /// Strict decoding: canonical bencode only.
    public static let strict = BencodeDecodingOptions()
    /// Lenient decoding: unsorted dictionary keys are accepted.
    public static let lenient = BencodeDecodingOptions(allowUnsortedKeys: true)
}
