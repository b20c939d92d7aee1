import BTMetainfo
import Foundation
import Testing

/// The named bad-torrent corpus (`Corpus/bad`, written by `Corpus/make_corpus.py`): every file is rejected
/// with the specific error code its manifest names, never a crash; the few that libtorrent opens (hostile
/// names, trailing bytes) open here too, with every name sanitized into one that stays inside the folder.
struct BadTorrentCorpusIsRejectedOrSanitized {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "Corpus/bad")

    static let cases: [(file: String, code: String)] = {
        let manifest = (try? String(contentsOf: folder.appendingPathComponent("expected.tsv"), encoding: .utf8)) ?? ""
        return manifest.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: "\t")
            return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
        }
    }()

    @Test func manifestListsEveryCorpusFile() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.folder.path)
            .filter { $0.hasSuffix(".torrent") }.sorted()
        #expect(files.count >= 30)
        #expect(files == Self.cases.map(\.file).sorted())
    }

    @Test(arguments: cases.map(\.file))
    func rejectedWithItsCodeOrSanitized(file: String) throws {
        let expected = try #require(Self.cases.first { $0.file == file }).code
        let bytes = try [UInt8](Data(contentsOf: Self.folder.appendingPathComponent(file)))
        do {
            let torrent = try Torrent(bytes: bytes)
            #expect(expected == "opens", "\(file) parsed as \(torrent.name); expected \(expected)")
            for file in torrent.files where !file.isPadFile {
                for component in (torrent.isSingleFile ? [] : [torrent.name]) + file.path {
                    #expect(!component.isEmpty && component != "." && component != "..")
                    #expect(!component.contains("/") && !component.contains("\\") && !component.utf8.contains(0))
                }
            }
        } catch {
            #expect(error.code.description == expected, "\(file): \(error.reason)")
            #expect(!error.reason.isEmpty)
        }
    }
}
