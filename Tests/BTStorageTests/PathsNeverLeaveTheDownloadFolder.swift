import BTMetainfo
import BTStorage
import Foundation
import Testing

private func singleFileStorage(_ path: [String], folder: String) -> FileStorage {
    let file = TorrentFile(path: path, length: 4, offset: 0)
    return FileStorage(layout: PieceLayout(pieceLength: 16384, files: [file]), paths: [path], folder: folder)
}

@Test(arguments: [["..", "escape"], ["a", "..", "..", "b"], ["", "x"], ["."], ["a/b"], ["nul\u{0}"], []])
func unsafeComponentsAreRejected(path: [String]) throws {
    let folder = try TemporaryFolder()
    defer { folder.cleanup() }
    let storage = singleFileStorage(path, folder: folder.path + "/download")
    let error = #expect(throws: StorageError.self) {
        try [UInt8](repeating: 1, count: 4).withUnsafeBytes { try storage.write(file: 0, offset: 0, from: $0) }
    }
    #expect(error?.code == .unsafePath)
}

/// A symbolic link inside the folder that points outside it is refused for reads and writes; one that
/// points inside is followed.
@Test func symlinksPointingOutsideAreRefused() throws {
    let folder = try TemporaryFolder()
    defer { folder.cleanup() }
    let download = folder.path + "/download"
    let outside = folder.path + "/outside"
    try FileManager.default.createDirectory(atPath: download + "/inside", withIntermediateDirectories: true)
    try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
    try FileManager.default.createSymbolicLink(atPath: download + "/evil", withDestinationPath: outside)
    try FileManager.default.createSymbolicLink(atPath: download + "/evil.bin", withDestinationPath: outside + "/x.bin")
    try FileManager.default.createSymbolicLink(atPath: download + "/good", withDestinationPath: download + "/inside")

    for path in [["evil", "file.bin"], ["evil.bin"]] {
        let storage = singleFileStorage(path, folder: download)
        let error = #expect(throws: StorageError.self) {
            try [UInt8](repeating: 1, count: 4).withUnsafeBytes { try storage.write(file: 0, offset: 0, from: $0) }
        }
        #expect(error?.code == .unsafePath)
        let readError = #expect(throws: StorageError.self) {
            var buffer = [UInt8](repeating: 0, count: 4)
            _ = try buffer.withUnsafeMutableBytes { try storage.read(file: 0, offset: 0, into: $0) }
        }
        #expect(readError?.code == .unsafePath)
    }
    #expect(try FileManager.default.contentsOfDirectory(atPath: outside).isEmpty)

    let storage = singleFileStorage(["good", "file.bin"], folder: download)
    try [UInt8](repeating: 1, count: 4).withUnsafeBytes { try storage.write(file: 0, offset: 0, from: $0) }
    #expect(FileManager.default.fileExists(atPath: download + "/inside/file.bin"))
}
