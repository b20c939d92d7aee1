import BTSimulator
import NIOCore
import Testing

/// Piece availability under rarest first (issue 18): while 30 leechers download from one slow seed, the rarest
/// piece among them stays close to the mean, and some piece is held by the seed alone in fewer steps than
/// when every leecher takes pieces in order (`sequentialDownload`), the picker without rarest first.
@Suite struct RarestFirstSpreadsPiecesEvenly {
    static func run(sequential: Bool) async throws -> SwarmResult {
        // A seed uploading at a quarter of a leecher's rate: the leechers must spread what it gives.
        var configuration = SwarmConfiguration.swarm(
            seeds: 1, leechers: 30, seedUpload: 256 * 1024, contentSize: 1 << 20, pieceLength: 32 * 1024, seed: 40)
        configuration.deadline = .seconds(120)
        configuration.configureClient = { settings, _, _ in settings.sequentialDownload = sequential }
        return try await Swarm(configuration).run()
    }

    @Test func rarestFirstKeepsTheRarestPieceNearTheMean() async throws {
        let rarest = try await Self.run(sequential: false)
        let ordered = try await Self.run(sequential: true)
        for (name, result) in [("rarest first", rarest), ("sequential", ordered)] {
            let figure = result.availability
            print(
                "availability, \(name): rarest/mean \(figure.rarestOverMean), some piece only at the seed in "
                    + "\(figure.withoutLeecherCopy) of \(figure.samples) steps; last completion "
                    + "\(result.peers.compactMap(\.completedAt).max() ?? -1) s")
        }
        #expect(rarest.allCompleted && ordered.allCompleted)
        #expect(rarest.availability.samples > 0 && ordered.availability.samples > 0)
        #expect(rarest.availability.rarestOverMean > ordered.availability.rarestOverMean)
        #expect(rarest.availability.withoutLeecherCopy < ordered.availability.withoutLeecherCopy)
    }
}
