import BTMetainfo
import BTStorage
import Crypto
import Foundation

/// A torrent built in memory with the memberwise initializer, its content, and helpers to put that content
/// on disk. Shared by the storage tests.
struct Fixture {
    var torrent: Torrent
    /// Content of each layout file (pad files: zeros).
    var contents: [[UInt8]]

    /// A v1 torrent over files of `sizes` with random content; `padAligned` inserts BEP 47 pad files so each
    /// file starts on a piece boundary; `padFiles` lists sizes that are pad files themselves.
    static func v1(
        sizes: [Int], pieceLength: Int, padAligned: Bool = false, name: String = "fixture",
        generator: inout some RandomNumberGenerator
    ) -> Fixture {
        var files: [TorrentFile] = []
        var contents: [[UInt8]] = []
        var offset: Int64 = 0
        for (index, size) in sizes.enumerated() {
            if padAligned, offset % Int64(pieceLength) != 0 {
                let pad = Int64(pieceLength) - offset % Int64(pieceLength)
                files.append(TorrentFile(path: [".pad", "\(pad)"], length: pad, offset: offset, attributes: "p"))
                contents.append([UInt8](repeating: 0, count: Int(pad)))
                offset += pad
            }
            files.append(
                TorrentFile(path: ["dir\(index % 3)", "file\(index).bin"], length: Int64(size), offset: offset))
            contents.append((0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) })
            offset += Int64(size)
        }
        let stream = contents.flatMap { $0 }
        var hashes: [UInt8] = []
        for start in stride(from: 0, to: stream.count, by: pieceLength) {
            hashes += Insecure.SHA1.hash(data: stream[start..<min(start + pieceLength, stream.count)])
        }
        let torrent = Torrent(
            version: .v1, infoHashes: InfoHashes(v1: Array(Insecure.SHA1.hash(data: Array(name.utf8))), v2: nil),
            name: name, pieceLength: pieceLength, files: files, isSingleFile: false, pieceHashes: hashes,
            infoBytes: Array(name.utf8))
        return Fixture(torrent: torrent, contents: contents)
    }

    /// The linear byte stream (pad files as zeros).
    var stream: [UInt8] { contents.flatMap { $0 } }

    /// Bytes of piece `piece`.
    func piece(_ piece: Int) -> [UInt8] {
        let layout = torrent.layout
        let start = Int(layout.offset(ofPiece: piece))
        return Array(stream[start..<(start + layout.size(ofPiece: piece))])
    }

    /// Writes the real files under `folder` the way FileStorage names them (pad files are not written).
    func writeFiles(to folder: String) throws {
        for (index, file) in torrent.files.enumerated() where !file.isPadFile {
            let url = URL(fileURLWithPath: folder).appendingPathComponent(
                ([torrent.name] + file.path).joined(separator: "/"))
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(contents[index]).write(to: url)
        }
    }

    /// Path of file `index` on disk under `folder`.
    func path(ofFile index: Int, in folder: String) -> String {
        ([folder, torrent.name] + torrent.files[index].path).joined(separator: "/")
    }
}

/// A fresh empty folder under the system's temporary folder, removed by `cleanup`.
struct TemporaryFolder {
    let path: String
    init(_ label: String = "nbt-storage") throws {
        path = NSTemporaryDirectory() + "/\(label)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}

/// A deterministic generator (SplitMix64) so a failing property can be replayed from its seed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Collects events from a storage event handler.
final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [StorageEvent] = []
    var handler: @Sendable (StorageEvent) -> Void { { [self] in append($0) } }
    func append(_ event: StorageEvent) {
        lock.lock()
        items.append(event)
        lock.unlock()
    }
    var events: [StorageEvent] {
        lock.lock()
        defer { lock.unlock() }
        return items
    }
}

/// A value behind a lock, for closures called from storage threads.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
