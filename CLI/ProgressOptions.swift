import ArgumentParser

/// How `nbt download` and `nbt seed` report progress.
struct ProgressOptions: ParsableArguments {
    @Flag(
        help: """
            Print JSON lines on stdout instead of text: a progress record every second (name, state, percent, \
            downloadRate, uploadRate, peers, seeds, eta, downloadedBytes, uploadedBytes, ratio, verifiedPieces, \
            pieceCount; metadataPieces and metadataPieceCount while a magnet's metadata is fetched) and \
            {"message": TEXT} for every other line.
            """)
    var json = false
}
