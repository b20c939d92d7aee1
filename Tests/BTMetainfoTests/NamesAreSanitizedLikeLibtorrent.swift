import BTMetainfo
import Testing

/// The name rules, element by element, as libtorrent 2.1.1 applies them (each vector was checked against
/// libtorrent with a torrent holding it): separators, NUL and invisible formatting characters are dropped,
/// control characters and invalid UTF-8 become `_`, `.`/`..`/empty elements become `_` (or vanish from
/// the torrent's name), long names are cut keeping the extension, collisions are numbered, links that leave
/// the torrent point at themselves.
struct NamesAreSanitizedLikeLibtorrent {
    struct Vector: Sendable, CustomStringConvertible {
        var bytes: [UInt8]
        var forced: String
        var unforced: String?
        var description: String { "\(bytes)" }
    }

    static let vectors: [Vector] = [
        Vector(bytes: Array("plain.txt".utf8), forced: "plain.txt", unforced: "plain.txt"),
        Vector(bytes: [0x61, 0x00, 0x62], forced: "ab", unforced: "ab"),
        Vector(bytes: [0x61, 0x01, 0x62], forced: "a_b", unforced: "a_b"),
        Vector(bytes: [0x61, 0x7F, 0x62], forced: "a_b", unforced: "a_b"),
        Vector(bytes: [0x61, 0xC2, 0x85, 0x62], forced: "a_b", unforced: "a_b"),  // C1 control NEL
        Vector(bytes: Array("a\u{200B}b".utf8), forced: "ab", unforced: "ab"),  // zero-width space
        Vector(bytes: Array("evil\u{202E}txt.exe".utf8), forced: "eviltxt.exe", unforced: "eviltxt.exe"),
        Vector(bytes: [0x61, 0xFF, 0x62], forced: "a_b", unforced: "a_b"),  // invalid lead byte
        Vector(bytes: [0x61, 0xE2, 0x82], forced: "a_", unforced: "a_"),  // truncated sequence
        Vector(bytes: [0xC0, 0xAF], forced: "_", unforced: "_"),  // overlong "/"
        Vector(bytes: [0xED, 0xA0, 0x80], forced: "_", unforced: "_"),  // a UTF-16 surrogate
        Vector(bytes: Array("a/../b".utf8), forced: "a..b", unforced: "a..b"),
        Vector(bytes: Array("\\".utf8), forced: "_", unforced: nil),
        Vector(bytes: Array("/".utf8), forced: "_", unforced: nil),
        Vector(bytes: Array(".".utf8), forced: "_", unforced: nil),
        Vector(bytes: Array("..".utf8), forced: "_", unforced: nil),
        Vector(bytes: Array("/..".utf8), forced: "_", unforced: nil),
        Vector(bytes: Array("...".utf8), forced: "...", unforced: "..."),
        Vector(bytes: [], forced: "_", unforced: "_"),
        Vector(bytes: Array("é".utf8), forced: "é", unforced: "é"),
    ]

    @Test(arguments: vectors)
    func elementIsSanitized(vector: Vector) {
        #expect(PathSanitizer.element(vector.bytes, force: true) == vector.forced)
        #expect(PathSanitizer.element(vector.bytes, force: false) == vector.unforced)
    }

    @Test func longNamesAreCutAt240BytesKeepingTheExtension() {
        let withExtension = PathSanitizer.element(
            Array((String(repeating: "a", count: 300) + ".txt").utf8), force: true)
        #expect(withExtension == String(repeating: "a", count: 240) + ".txt")
        let without = PathSanitizer.element(Array(String(repeating: "b", count: 300).utf8), force: true)
        #expect(without == String(repeating: "b", count: 240))
        // Multi-byte characters are never split.
        let accented = PathSanitizer.element(Array(String(repeating: "é", count: 200).utf8), force: true)
        #expect(accented == String(repeating: "é", count: 120))
    }

    @Test func collidingPathsAreNumberedBeforeTheExtension() throws {
        let paths = [
            ["t", "a.txt"], ["t", "A.TXT"], ["t", "a.txt"], ["t", "d"], ["t", "d", "x"], ["t", ".x"], ["t", ".x"],
        ]
        let unique = try DuplicatePaths.disambiguate(
            paths, isPad: paths.map { _ in false }, lengths: paths.map { _ in 1 })
        #expect(
            unique == [
                ["t", "a.txt"], ["t", "A.1.TXT"], ["t", "a.2.txt"], ["t", "d.1"], ["t", "d", "x"], ["t", ".x"],
                ["t", ".1.x"],
            ])
        // Pad files of one size may share a name (they never reach the disk); of another size they may not.
        let pads = try DuplicatePaths.disambiguate(
            [[".pad", "1"], [".pad", "1"], [".pad", "1"]], isPad: [true, true, true], lengths: [1, 1, 2])
        #expect(pads == [[".pad", "1"], [".pad", "1"], [".pad", "1.1"]])
    }

    @Test func tooManyCollisionsAreRefused() {
        let paths = Array(repeating: ["t", "same.bin"], count: 100)
        #expect(throws: MetainfoError.self) {
            try DuplicatePaths.disambiguate(paths, isPad: paths.map { _ in false }, lengths: paths.map { _ in 1 })
        }
        do {
            _ = try DuplicatePaths.disambiguate(
                Array(paths.prefix(30)), isPad: Array(repeating: false, count: 30),
                lengths: Array(repeating: 1, count: 30))
        } catch {
            Issue.record("30 equal names cost 406 collisions, under the limit of 500: \(error)")
        }
    }

    @Test func linksLeavingTheTorrentPointAtThemselves() {
        let paths = [["dir", "file"], ["dir", "inside"], ["dir", "relative"], ["outside"], ["via"], ["through"]]
        let targets: [[String]?] = [
            nil, ["dir", "file"], ["file"], ["etc", "passwd"], ["dir"], ["via", "file"],
        ]
        let checked = SymlinkTargets.validate(paths: paths, targets: targets)
        #expect(checked[1] == ["dir", "file"])
        #expect(checked[2] == ["dir", "file"])  // relative to the link's folder
        #expect(checked[3] == ["outside"])
        #expect(checked[4] == ["dir"])
        #expect(checked[5] == ["via", "file"])  // through another link of the torrent
    }
}
