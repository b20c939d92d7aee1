import BTMetainfo
import Foundation
import Testing

/// Issue 12 asks for a named bad-torrent corpus at least as large as libtorrent's `test/test_torrents`
/// (116 files): `Corpus/bad` has that many cases, each named once, each expecting a specific
/// ``MetainfoError/Code`` or `opens`, and the refused ones spread over the codes rather than one catch-all.
struct BadTorrentCorpusCoversLibtorrentsCount {
    @Test func atLeast116NamedCasesEachWithASpecificOutcome() throws {
        let cases = BadTorrentCorpusIsRejectedOrSanitized.cases
        #expect(cases.count >= 116)
        #expect(Set(cases.map(\.file)).count == cases.count, "each case is named once")
        let known: Set<String> = [
            "opens", "invalidBencode", "missingField", "invalidField", "invalidPieceLength", "pieceCountMismatch",
            "invalidFileLength", "invalidFileTree", "unsupportedVersion", "hybridMismatch", "invalidPieceHashes",
            "invalidPieceLayers", "missingPiecesRoot",
        ]
        for (file, code) in cases { #expect(known.contains(code), "\(file): \(code)") }
        let refusals = Dictionary(grouping: cases.filter { $0.code != "opens" }, by: \.code)
        #expect(refusals.count >= 10, "refused cases spread over \(refusals.keys.sorted())")
        #expect(refusals.values.allSatisfy { $0.count < cases.count / 3 })
    }
}
