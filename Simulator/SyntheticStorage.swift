import BTMetainfo
import BTStorage
import Foundation

/// A ``BTStorage/Storage`` for a single-file torrent of ``SyntheticContent``: it keeps which 16 KiB blocks
/// were written, not their bytes, and reads give the generated content back. Only blocks written with
/// bytes that differ from the content (a lying peer's) are kept, so a piece that holds one is read back as
/// written and fails its hash as it would on disk.
///
/// A seed's storage starts with every block present. The unchecked `Sendable` is sound because every
/// access to the mutable state holds `lock`.
public final class SyntheticStorage: Storage, @unchecked Sendable {
    /// The torrent's layout (one file).
    public let layout: PieceLayout
    /// The generated payload.
    public let content: SyntheticContent
    private static let block = 16 * 1024
    private let lock = NSLock()
    private var present: [Bool]  // guarded by lock
    private var wrong: [Int: [UInt8]] = [:]  // guarded by lock: block index → the bytes written there
    private var created: Bool  // guarded by lock
    private var written = 0  // guarded by lock
    private var writtenWrong = 0  // guarded by lock
    private var path: [String]

    /// Storage for `layout` (a single file of `content.size` bytes), full when `complete`.
    public init(layout: PieceLayout, content: SyntheticContent, complete: Bool) {
        self.layout = layout
        self.content = content
        let blocks = (content.size + Self.block - 1) / Self.block
        self.present = Array(repeating: complete, count: blocks)
        self.created = complete
        self.path = layout.files.first?.path ?? ["synthetic"]
    }

    /// Payload bytes written so far (every write, duplicates of the same block included).
    public var bytesWritten: Int { lock.withLock { written } }
    /// Written bytes that differed from the content (a liar's blocks).
    public var wrongBytesWritten: Int { lock.withLock { writtenWrong } }
    /// Whether every block holds the content's own bytes: a complete, correct copy.
    public var holdsCorrectCopy: Bool { lock.withLock { wrong.isEmpty && present.allSatisfy { $0 } } }

    public func path(ofFile index: Int) -> [String] { lock.withLock { path } }

    public func read(file: Int, offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let start = Int(offset)
        let end = min(content.size, start + buffer.count)
        guard start < end else { return 0 }
        return lock.withLock {
            var position = start
            while position < end {
                let index = position / Self.block
                guard present[index] else { break }
                let blockEnd = min(end, (index + 1) * Self.block)
                let target = UnsafeMutableRawBufferPointer(
                    rebasing: buffer[(position - start)..<(blockEnd - start)])
                if let bytes = wrong[index] {
                    let from = position - index * Self.block
                    bytes.withUnsafeBytes {
                        target.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[from..<(from + target.count)]))
                    }
                } else {
                    content.fill(offset: position, into: target)
                }
                position = blockEnd
            }
            return position - start
        }
    }

    public func write(file: Int, offset: Int64, from buffer: UnsafeRawBufferPointer) throws {
        let start = Int(offset)
        guard start >= 0, start + buffer.count <= content.size else {
            throw StorageError(.invalidRequest, .write, path: nil, reason: "write past the end of the synthetic file")
        }
        var position = start
        var expected = [UInt8](repeating: 0, count: Self.block)
        lock.withLock {
            created = true
            written += buffer.count
            while position < start + buffer.count {
                let index = position / Self.block
                let blockEnd = min(start + buffer.count, (index + 1) * Self.block)
                let count = blockEnd - position
                let source = UnsafeRawBufferPointer(rebasing: buffer[(position - start)..<(blockEnd - start)])
                expected.withUnsafeMutableBytes {
                    content.fill(offset: position, into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<count]))
                }
                let matches = expected.withUnsafeBytes { memcmp($0.baseAddress!, source.baseAddress!, count) == 0 }
                let whole = position == index * Self.block
                if matches {
                    if whole { wrong[index] = nil }
                } else {
                    writtenWrong += count
                    var bytes =
                        wrong[index]
                        ?? content.bytes((index * Self.block)..<min(content.size, (index + 1) * Self.block))
                    let from = position - index * Self.block
                    bytes.withUnsafeMutableBytes {
                        UnsafeMutableRawBufferPointer(rebasing: $0[from..<(from + count)]).copyMemory(from: source)
                    }
                    wrong[index] = bytes
                }
                if blockEnd == min(content.size, (index + 1) * Self.block) || whole { present[index] = true }
                position = blockEnd
            }
        }
    }

    public func status(ofFile file: Int) throws -> FileStatus? {
        lock.withLock {
            guard created else { return nil }
            let last = present.lastIndex(of: true).map { min(content.size, ($0 + 1) * Self.block) } ?? 0
            return FileStatus(size: Int64(last), modificationTime: 1)
        }
    }

    public func createFile(_ file: Int) throws { lock.withLock { created = true } }
    public func synchronize() throws {}
    public func closeFiles() {}
    public func renameFile(_ file: Int, to path: [String]) throws { lock.withLock { self.path = path } }
    public func move(to folder: String) throws {}

    public func removeData() throws {
        lock.withLock {
            present = Array(repeating: false, count: present.count)
            wrong = [:]
            created = false
        }
    }
}
