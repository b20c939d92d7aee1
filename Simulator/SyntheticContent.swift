import BTMetainfo
import Foundation

/// A torrent's payload as a function of the byte offset, so that 1,000 peers share 100 MiB without anyone
/// storing it: byte `p` is byte `p % 8` of `SimulationRandom.mix(seed ^ p / 8)`.
public struct SyntheticContent: Sendable, Hashable {
    /// Seed of the bytes.
    public let seed: UInt64
    /// Payload size in bytes.
    public let size: Int

    /// Content of `size` bytes generated from `seed`.
    public init(size: Int, seed: UInt64) {
        self.size = size
        self.seed = seed
    }

    /// Fills `buffer` with the payload's bytes from `offset` on (the caller keeps within ``size``).
    public func fill(offset: Int, into buffer: UnsafeMutableRawBufferPointer) {
        var position = offset
        var index = 0
        while index < buffer.count {
            let word = SimulationRandom.mix(seed ^ UInt64(position / 8))
            var shift = (position % 8) * 8
            while shift < 64 && index < buffer.count {
                buffer[index] = UInt8(truncatingIfNeeded: word >> UInt64(shift))
                shift += 8
                index += 1
                position += 1
            }
        }
    }

    /// The payload's bytes in `range`.
    public func bytes(_ range: Range<Int>) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: range.count) { buffer, count in
            fill(offset: range.lowerBound, into: UnsafeMutableRawBufferPointer(buffer))
            count = range.count
        }
    }

    /// A single-file v1 torrent of this payload named `name` (hashed once, through a temporary file that is
    /// removed before this returns).
    /// - Throws: ``SimulationError`` when the temporary file cannot be written or the torrent made.
    public func makeTorrent(name: String = "synthetic.bin", pieceLength: Int) throws(SimulationError) -> Torrent {
        let folder = NSTemporaryDirectory() + "nbt-sim-\(ProcessInfo.processInfo.processIdentifier)-\(seed)-\(size)"
        let path = folder + "/" + name
        defer { try? FileManager.default.removeItem(atPath: folder) }
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            guard FileManager.default.createFile(atPath: path, contents: nil),
                let handle = FileHandle(forWritingAtPath: path)
            else { throw SimulationError(.setupFailed, "cannot create \(path)") }
            defer { try? handle.close() }
            let chunk = 1 << 20
            var offset = 0
            while offset < size {
                try handle.write(contentsOf: Data(bytes(offset..<min(size, offset + chunk))))
                offset += chunk
            }
            var creator = TorrentCreator(path: path)
            creator.version = .v1
            creator.pieceLength = pieceLength
            creator.creationDate = nil
            return try creator.create()
        } catch let error as SimulationError {
            throw error
        } catch {
            throw SimulationError(.setupFailed, "cannot make the synthetic torrent: \(error)")
        }
    }
}
