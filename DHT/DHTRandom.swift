import BTMetainfo

/// The DHT's seeded generator: BTMetainfo's `SeededRandom` (SplitMix64), so that a node's ids, transaction
/// ids and token secrets come from one injected seed and a simulation of 10,000 nodes replays exactly, run
/// after run. Token secrets still get their unpredictability from the seed, which a production node takes from
/// `SystemRandomNumberGenerator` (the default of ``DHTConfiguration/randomSeed``).
public typealias DHTRandom = SeededRandom
