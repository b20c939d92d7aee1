import BTMetainfo
import Foundation
import Testing

@Test(arguments: ["/dev/zero", "/dev/urandom", "/dev/null", "/"])
func specialFilesAreRefusedWithATypedError(path: String) {
    let error = #expect(throws: MetainfoError.self) { try TorrentFileReader.read(path) }
    #expect(error?.code == .notARegularFile)
    let parsed = #expect(throws: MetainfoError.self) { try Torrent(contentsOf: path) }
    #expect(parsed?.code == .notARegularFile)
}

@Test func aFIFOIsRefusedWithoutWaitingForAWriter() throws {
    let fifo = NSTemporaryDirectory() + "/nbt-fifo-\(UUID().uuidString)"
    #expect(mkfifo(fifo, 0o600) == 0)
    defer { unlink(fifo) }
    let error = #expect(throws: MetainfoError.self) { try TorrentFileReader.read(fifo) }
    #expect(error?.code == .notARegularFile)
}

@Test func filesAreReadUpToTheLimitAndNoFurther() throws {
    let path = NSTemporaryDirectory() + "/nbt-limit-\(UUID().uuidString)"
    defer { unlink(path) }
    let bytes = (0..<5000).map { UInt8(truncatingIfNeeded: $0) }
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    #expect(try TorrentFileReader.read(path, limit: 5000) == bytes)
    let error = #expect(throws: MetainfoError.self) { try TorrentFileReader.read(path, limit: 4999) }
    #expect(error?.code == .limitExceeded)
    #expect(MetainfoLimits.maxTorrentFileSize == 10_000_000)
    let missing = #expect(throws: MetainfoError.self) { try TorrentFileReader.read(path + ".absent") }
    #expect(missing?.code == .ioError)
}
