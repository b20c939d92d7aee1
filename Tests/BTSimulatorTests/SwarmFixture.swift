import BTSimulator
import NIOCore

/// The 100-peer swarm the measurement tests share (one run, about 30 s of CPU in a debug build): one seed,
/// 79 honest leechers, 10 free-riders, 10 liars (10 %). Each peer uploads 1 MiB/s and downloads 4 MiB/s with
/// 20 ms of latency; the torrent is 512 KiB in 64 KiB pieces.
enum SwarmFixture {
    static var configuration: SwarmConfiguration {
        var configuration = SwarmConfiguration.swarm(
            seeds: 1, leechers: 99, freeRiders: 10, liars: 10, contentSize: 512 * 1024, pieceLength: 64 * 1024, seed: 18
        )
        configuration.deadline = .seconds(120)
        return configuration
    }

    /// The shared run (started by the first test that asks).
    static let result = Task { try await Swarm(configuration).run() }
}
