import BTMetainfo
import Foundation
import Testing

/// libtorrent's own corpus of test torrents (`Fixtures/libtorrent`, 108 files): each one opens or is refused
/// as libtorrent 2.1 does, with the same info-hashes and number of files, the sanitized names its
/// `test_torrent_info.cpp` expects, and, with libtorrent installed, every name, size and link target it reports.
struct LibtorrentTestTorrentsOpenAsInLibtorrent {
    static let folder = ExternalTool.fixtures.appendingPathComponent("libtorrent")

    /// One line of `expected.tsv`.
    struct Expectation: Sendable, CustomStringConvertible {
        var file: String
        /// `opens`, or the ``MetainfoError/Code`` it is refused with.
        var outcome: String
        var v1: String
        var v2: String
        var fileCount: Int
        var description: String { file }
    }

    static let expectations: [Expectation] = {
        let manifest = (try? String(contentsOf: folder.appendingPathComponent("expected.tsv"), encoding: .utf8)) ?? ""
        return manifest.split(separator: "\n").compactMap { line in
            guard !line.hasPrefix("#") else { return nil }
            let parts = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard parts.count >= 3 else { return nil }
            if parts[1] == "opens", parts.count == 5, let count = Int(parts[4]) {
                return Expectation(
                    file: parts[0], outcome: "opens", v1: parts[2] == "-" ? "" : parts[2],
                    v2: parts[3] == "-" ? "" : parts[3], fileCount: count)
            }
            return Expectation(file: parts[0], outcome: parts[1], v1: "", v2: "", fileCount: 0)
        }
    }()

    static func load(_ file: String) throws(MetainfoError) -> Torrent {
        try Torrent(contentsOf: folder.appendingPathComponent(file).path)
    }

    /// A file's full path as libtorrent prints it: below the torrent's name for multi-file torrents.
    static func fullPath(_ torrent: Torrent, _ file: TorrentFile) -> String {
        let isPadWithoutFolder = file.isPadFile && file.path.first == ".pad"
        return (torrent.isSingleFile || isPadWithoutFolder ? file.path : [torrent.name] + file.path)
            .joined(separator: "/")
    }

    static func paths(_ torrent: Torrent) -> [String] { torrent.files.map { fullPath(torrent, $0) } }

    static func link(_ torrent: Torrent, _ index: Int) -> String? {
        torrent.files[index].symlinkPath.map {
            (torrent.isSingleFile ? $0 : [torrent.name] + $0).joined(separator: "/")
        }
    }

    @Test func manifestCoversAll108Files() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.folder.path)
            .filter { $0.hasSuffix(".torrent") }.sorted()
        #expect(files.count == 108)
        #expect(files == Self.expectations.map(\.file).sorted())
        #expect(Self.expectations.filter { $0.outcome == "opens" }.count == 65)
    }

    @Test(arguments: expectations)
    func opensOrIsRefusedAsLibtorrentDoes(expected: Expectation) throws {
        let bytes = try [UInt8](Data(contentsOf: Self.folder.appendingPathComponent(expected.file)))
        do {
            let torrent = try Torrent(bytes: bytes)
            #expect(expected.outcome == "opens", "\(expected.file) opened; libtorrent refuses it")
            #expect((torrent.infoHashes.v1.map(InfoHashes.hex) ?? "") == expected.v1)
            #expect((torrent.infoHashes.v2.map(InfoHashes.hex) ?? "") == expected.v2)
            #expect(torrent.files.count == expected.fileCount)
            // Every name is one that can be created inside the download folder.
            for file in torrent.files where !file.isPadFile {
                for component in (torrent.isSingleFile ? [] : [torrent.name]) + file.path {
                    #expect(!component.isEmpty && component != "." && component != "..")
                    #expect(!component.contains("/") && !component.utf8.contains(0))
                    #expect(component.utf8.count <= 255)
                }
            }
            // What we parsed encodes back to the same torrent.
            #expect(try Torrent(bytes: torrent.encoded()) == torrent)
        } catch {
            #expect(error.code.description == expected.outcome, "\(expected.file): \(error.reason)")
            #expect(!error.reason.isEmpty)
        }
    }

    // MARK: the names test_torrent_info.cpp expects

    @Test func separatorsInsideElementsAreDropped() throws {
        #expect(Self.paths(try Self.load("slash_path.torrent")) == ["temp/_/_/bar"])
        #expect(Self.paths(try Self.load("slash_path2.torrent")) == ["temp/abc....def/_/bar"])
        #expect(Self.paths(try Self.load("slash_path3.torrent")) == ["temp....abc"])
        #expect(Self.paths(try Self.load("backslash_path.torrent")) == ["temp/_/_/bar"])
        #expect(Self.paths(try Self.load("hidden_parent_path.torrent")) == ["temp/foo......bar/bar"])
    }

    @Test func parentEmptyAndAbsoluteElementsStayInside() throws {
        let parent = try Self.load("parent_path.torrent")
        #expect(Self.paths(parent) == ["temp/_/_/bar"])
        #expect(parent.files[0].originalPath == ["..", "..", "bar"])
        #expect(Self.paths(try Self.load("empty_path.torrent")) == ["temp/_/_"])
        #expect(Self.paths(try Self.load("empty_path_multi.torrent")) == ["temp/abcde", "temp/_", "temp/_.1"])
        let absolute = try Self.load("absolute_filename.torrent")
        #expect(Self.paths(absolute) == ["temp/abcde", "temp/foobar"])
        #expect(absolute.files[1].originalPath == ["/foobar"])
    }

    @Test func duplicatePathsAreNumbered() throws {
        let duplicates = try Self.load("duplicate_files.torrent")
        #expect(Self.paths(duplicates) == ["temp/foo/bar.txt", "temp/foo/bar.1.txt"])
        #expect(duplicates.files[1].originalPath == ["foo", "bar.txt"])
        #expect(Self.paths(try Self.load("invalid_directory_name.torrent")) == ["test2/_/foo", "test2/_/foo.1"])
        #expect(try Self.load("invalid_filename.torrent").files.count == 2)
        #expect(try Self.load("invalid_filename2.torrent").files.count == 3)
        do {
            _ = try Self.load("duplicate_files2.torrent")
            Issue.record("duplicate_files2.torrent has more collisions than libtorrent tolerates")
        } catch { #expect(error.code == .duplicatePath) }
    }

    @Test func invalidNamesBecomeTheInfoHashOrKeepTheirSpaces() throws {
        let dots = try Self.load("invalid_name2.torrent")
        #expect(dots.name == "b61560c2918f463768cd122b6d2fdd47b77bdb35")
        #expect(dots.originalName == "..")
        #expect(try Self.load("invalid_name3.torrent").name == "foobar ")
    }

    @Test func longNamesAreCutKeepingTheExtension() throws {
        let torrent = try Self.load("long_name.torrent")
        let name = torrent.files[0].path[0]
        #expect(name.utf8.count < 255)
        #expect(name.hasSuffix(".23456789"))
        #expect(torrent.originalName.utf8.count > name.utf8.count)
    }

    @Test func symlinkTargetsAreCheckedAndSanitized() throws {
        let one = try Self.load("symlink1.torrent")
        #expect(one.files.count == 2)
        #expect(Self.link(one, 1) == "temp/a/b/bar")
        let two = try Self.load("symlink2.torrent")
        #expect(two.files.count == 5)
        #expect(Self.link(two, 0) == "Some.framework/Versions/A/SDL2")
        #expect(Self.link(two, 4) == "Some.framework/Versions/A")
        let zero = try Self.load("symlink_zero_size.torrent")
        #expect(zero.files.count == 2)
        #expect(Self.link(zero, 1) == "temp/a/b/bar")
        let filtered = try Self.load("symlink_filtered_path.torrent")
        #expect(Self.paths(filtered)[0] == "temp/a/_/bar")
        #expect(Self.link(filtered, 1) == "temp/a/_/bar")
        for name in ["overlapping_symlinks.torrent", "v2_symlinks.torrent"] {
            let torrent = try Self.load(name)
            #expect(torrent.files.count > 3)
            #expect(Self.link(torrent, 0) == "SDL2.framework/Versions/Current/Headers")
            #expect(Self.link(torrent, 1) == "SDL2.framework/Versions/Current/Resources")
            #expect(Self.link(torrent, 2) == "SDL2.framework/Versions/Current/SDL2")
        }
    }

    @Test func padFilesAndLargePiecesOpen() throws {
        let pad = try Self.load("pad_file.torrent")
        #expect(pad.files.map(\.isPadFile) == [false, true])
        let noPath = try Self.load("pad_file_no_path.torrent")
        #expect(noPath.files.count == 2)
        #expect(noPath.files[1].isPadFile && noPath.files[1].path == [".pad", "2124"])
        #expect(try Self.load("large_piece_size.torrent").pieceLength == 32_767 * 0x4000)
    }

    @Test func v2NamesAreSanitizedLikeV1Names() throws {
        let single = try Self.load("v2_invalid_filename.torrent")
        #expect(Self.paths(single) == ["_estMB"])
        let three = try Self.load("v2_invalid_filename2.torrent")
        let real = three.files.filter { !$0.isPadFile }.map { Self.fullPath(three, $0) }
        #expect(real == ["test/_", "test/_.1", "test/stress_test2"])
    }

    @Test func v2TorrentsHaveLibtorrentsRootsAndHashes() throws {
        let v2 = try Self.load("v2.torrent")
        #expect(v2.files.count == 1 && v2.files[0].path == ["test64K"] && v2.files[0].length == 65536)
        #expect(
            v2.files[0].piecesRoot.map(InfoHashes.hex)
                == "60aae9c7b428f87e0713e88229e18f0adf12cd7b22a0dd8a92bb2485eb7af242")
        #expect(
            v2.infoHashes.v2.map(InfoHashes.hex) == "597b180c1a170a585dfc5e85d834d69013ceda174b8f357d5bb1a0ca509faf0a")
        #expect(v2.version == .hybrid)
        let only = try Self.load("v2_only.torrent")
        #expect(only.version == .v2 && only.infoHashes.v1 == nil)
        #expect(
            only.infoHashes.v2.map(InfoHashes.hex)
                == "95e04d0c4bad94ab206efa884666fd89777dbe4f7bd9945af1829037a85c6192")
        #expect(only.filesMissingPieceLayers.isEmpty)
        #expect(try Self.load("v2_multiple_files.torrent").files.count == 5)
    }

    /// BEP 52 layers live outside the info dictionary: without them a v2-only torrent opens (like a magnet
    /// link's metadata) but says which files it cannot check and refuses to be downloaded.
    @Test func v2TorrentsWithoutPieceLayersOpenButCannotBeVerified() throws {
        for name in ["v2_no_piece_layers.torrent", "v2_incomplete_piece_layer.torrent"] {
            let torrent = try Self.load(name)
            #expect(torrent.version == .v2)
            #expect(!torrent.filesMissingPieceLayers.isEmpty)
            do {
                try torrent.requireAllPieceHashes()
                Issue.record("\(name) has no layers for some files yet passed")
            } catch { #expect(error.code == .missingPieceLayers) }
        }
        try Self.load("v2_only.torrent").requireAllPieceHashes()
    }

    // MARK: libtorrent itself

    /// Every torrent, against the libtorrent installed here (`NBT_PYTHON`): same outcome and, for those that
    /// open, the same name, piece length, hashes and, file by file, path, size, pad flag and link target.
    @Test(.enabled(if: ExternalTool.enabled("libtorrent")))
    func everyNameMatchesLibtorrent() throws {
        struct Report: Decodable {
            struct Entry: Decodable {
                struct File: Decodable {
                    var path: String
                    var size: Int64
                    var pad: Bool
                    var symlink: String?
                }
                var ok: Bool
                var error: String?
                var name: String?
                var v1: String?
                var v2: String?
                var piece_length: Int?
                var files: [File]?
            }
            var version: String
            var torrents: [String: Entry]
        }
        let json = try ExternalTool.run(ExternalTool.python, [ExternalTool.helper, "corpus", Self.folder.path])
        let report = try JSONDecoder().decode(Report.self, from: Data(json.utf8))
        #expect(report.torrents.count == 108)
        // libtorrent 2.0 still opens four torrents that 2.1 refuses (it ignored a piece layer whose root names
        // no file and tolerated any number of duplicate names); we follow 2.1.
        let changedIn21: Set<String> =
            report.version.hasPrefix("2.0")
            ? [
                "duplicate_files2.torrent", "v2_invalid_piece_layer_root.torrent", "v2_invalid_root_hash.torrent",
                "v2_unknown_piece_layer_entry.torrent",
            ] : []
        // libtorrent 2.0 also dropped a path element with nothing valid in it where 2.1 writes `_` (which keeps
        // link targets and paths in step): names are compared with 2.1 and later only.
        let comparesNames = !report.version.hasPrefix("2.0")
        for (file, theirs) in report.torrents.sorted(by: { $0.key < $1.key }) where !changedIn21.contains(file) {
            let ours = Result { () throws(MetainfoError) in try Self.load(file) }
            switch (ours, theirs.ok) {
            case (.success(let torrent), true):
                #expect(torrent.name == theirs.name || !comparesNames, "\(file)")
                #expect((torrent.infoHashes.v1.map(InfoHashes.hex) ?? "") == theirs.v1, "\(file)")
                #expect((torrent.infoHashes.v2.map(InfoHashes.hex) ?? "") == theirs.v2, "\(file)")
                #expect(torrent.pieceLength == theirs.piece_length, "\(file)")
                let files = theirs.files ?? []
                #expect(torrent.files.count == files.count, "\(file)")
                for (index, (mine, their)) in zip(torrent.files, files).enumerated() {
                    #expect(mine.length == their.size && mine.isPadFile == their.pad, "\(file) #\(index)")
                    if !mine.isPadFile && comparesNames {
                        #expect(Self.fullPath(torrent, mine) == their.path, "\(file) #\(index)")
                        #expect(Self.link(torrent, index) == their.symlink, "\(file) #\(index)")
                    }
                }
            case (.failure(let error), false):
                #expect(!error.reason.isEmpty)
            case (.success, false):
                Issue.record("\(file): libtorrent \(report.version) refuses it (\(theirs.error ?? "")), we open it")
            case (.failure(let error), true):
                Issue.record("\(file): libtorrent \(report.version) opens it, we refuse it: \(error.reason)")
            }
        }
    }
}
