import BTMetainfo

/// BTTracker's seedable generator (transaction ids, keys, tier shuffles): BTMetainfo's `SeededRandom`
/// (SplitMix64), random in use (`TrackerRandom()`) and reproducible in tests (`TrackerRandom(seed:)`).
public typealias TrackerRandom = SeededRandom
