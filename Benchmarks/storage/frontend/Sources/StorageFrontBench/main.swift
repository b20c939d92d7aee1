// Storage front-end benchmark (issue 11, issue 13's data path): writes and hashes SIZE MiB of a v1 torrent
// (1 MiB pieces over four files, blocks of 16 KiB) through BTStorage three ways, and reads it back two
// ways, in one process, rotating the order of the variants every round:
//
//   write arrays      the engine's path today: each block copied out of its ByteBuffer into an [UInt8]
//                     (as ClientCore+Downloading does), batches of 32 blocks through writeBlocks([BlockWrite])
//   write buffers     the same batches through writeBlocks([ReceivedBlock]): the buffers' bytes written and
//                     hashed in place
//   write front end   every block enqueued on PieceStore.BlockWriter (default 512 KiB minimum batch, 3 ms
//                     flush), the producer holding at most 8 MiB unwritten (the engine's back-pressure)
//   read arrays       readBlocks([BlockRequest]) in batches of 64, each [UInt8] copied into a ByteBuffer (as
//                     ClientCore+Uploading does)
//   read front end    PieceStore.BlockReader into buffers from a ByteBufferAllocator, 4 MiB of requests in
//                     flight (a peer's pipeline), queued in bursts of --read-burst, pread straight into each buffer
//
// "Received" blocks are slices of 64 distinct 1 MiB piece buffers (piece i is buffer i % 64), as the wire
// decoder hands out slices of the buffers NIO read; every write round must verify every piece from the bytes
// it wrote. CPU seconds are the process's (getrusage, user + system) over the variant alone.
// Usage: StorageFrontBench [--mebibytes N] [--rounds N] [--folder PATH] [--only write|read|LABEL]
//   [--pace-mebibytes N (the writer's back-pressure, default 8)] [--read-burst N (requests per wake-up, default 32)]
import BTMetainfo
import BTStorage
import Crypto
import Dispatch
import Foundation
import NIOCore

#if canImport(Glibc)
    import Glibc
#endif

/// The command line: size, rounds, folder.
let (mebibytes, rounds, folder, only, paceMebibytes, readBurst) = { () -> (Int, Int, String, String?, Int, Int) in
    var only: String?
    var pace = 8
    var burst = 32
    var mebibytes = 1024
    var rounds = 3
    var folder = NSTemporaryDirectory() + "/nbt-storagefront-bench"
    var arguments = CommandLine.arguments.dropFirst().makeIterator()
    while let argument = arguments.next() {
        switch argument {
        case "--mebibytes": mebibytes = Int(arguments.next() ?? "") ?? mebibytes
        case "--rounds": rounds = Int(arguments.next() ?? "") ?? rounds
        case "--folder": folder = arguments.next() ?? folder
        case "--only": only = arguments.next()
        case "--pace-mebibytes": pace = Int(arguments.next() ?? "") ?? pace
        case "--read-burst": burst = Int(arguments.next() ?? "") ?? burst
        default: fatalError("unknown argument \(argument)")
        }
    }
    return (mebibytes, rounds, folder, only, pace, max(1, burst))
}()

let pieceLength = 1 << 20
let blockSize = PieceStore.blockSize
let pieceCount = mebibytes
let totalBytes = pieceCount * pieceLength

struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

// 64 distinct pieces; the torrent repeats them.
var generator = SplitMix64(state: 11)
let templates: [ByteBuffer] = (0..<64).map { _ in
    var words = [UInt64](repeating: 0, count: pieceLength / 8)
    for index in words.indices { words[index] = generator.next() }
    return words.withUnsafeBytes { ByteBuffer(bytes: $0) }
}
let templateHashes = templates.map { buffer in buffer.withUnsafeReadableBytes { Array(Insecure.SHA1.hash(data: $0)) } }
let weights = [3, 1, 2, 2]
var files: [TorrentFile] = []
var fileOffset: Int64 = 0
for (index, weight) in weights.enumerated() {
    let length = index == weights.count - 1 ? Int64(totalBytes) - fileOffset : Int64(totalBytes * weight / 8 + 12345)
    files.append(TorrentFile(path: ["file\(index).bin"], length: length, offset: fileOffset))
    fileOffset += length
}
let torrent = Torrent(
    version: .v1, infoHashes: InfoHashes(v1: Array(Insecure.SHA1.hash(data: Array("bench".utf8))), v2: nil),
    name: "bench", pieceLength: pieceLength, files: files, isSingleFile: false,
    pieceHashes: (0..<pieceCount).flatMap { templateHashes[$0 % 64] }, infoBytes: Array("bench".utf8))

func block(piece: Int, index: Int) -> ReceivedBlock {
    let buffer = templates[piece % 64].getSlice(at: index * blockSize, length: blockSize)!
    return ReceivedBlock(
        BlockRequest(piece: piece, offset: index * blockSize, length: blockSize), bytes: buffer, from: PeerTag(1))
}
let blocksPerPiece = pieceLength / blockSize
let allBlocks = (0..<pieceCount).flatMap { piece in (0..<blocksPerPiece).map { block(piece: piece, index: $0) } }

func cpuSeconds() -> (user: Double, system: Double) {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return (
        Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6,
        Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    )
}

struct Measurement {
    var wall: Double
    var user: Double
    var system: Double
    var cpu: Double { user + system }
}

func measure(_ body: () async throws -> Void) async rethrows -> Measurement {
    let cpu0 = cpuSeconds()
    let start = DispatchTime.now().uptimeNanoseconds
    try await body()
    let wall = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    let cpu1 = cpuSeconds()
    return Measurement(wall: wall, user: cpu1.user - cpu0.user, system: cpu1.system - cpu0.system)
}

/// Counts bytes handed to a front end and not yet answered; the producer waits while `limit` are out.
final class Pacer: @unchecked Sendable {
    private let lock = NSLock()
    private var outstanding = 0
    private var waiter: CheckedContinuation<Void, Never>?
    let limit: Int
    init(limit: Int) { self.limit = limit }
    func add(_ bytes: Int) { lock.withLock { outstanding += bytes } }
    func done(_ bytes: Int) {
        let resume = lock.withLock { () -> CheckedContinuation<Void, Never>? in
            outstanding -= bytes
            guard outstanding < limit, let waiter else { return nil }
            self.waiter = nil
            return waiter
        }
        resume?.resume()
    }
    func waitForRoom() async {
        await withCheckedContinuation { continuation in
            let now = lock.withLock { () -> Bool in
                if outstanding < limit { return true }
                waiter = continuation
                return false
            }
            if now { continuation.resume() }
        }
    }
}

/// Counts pieces verified and failures over a round.
final class Tally: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var verified = 0
    private(set) var failures = 0
    func count(_ results: [Result<BlockWriteResult, StorageError>]) {
        lock.withLock {
            for result in results {
                switch result {
                case .success(.pieceVerified): verified += 1
                case .success(.stored), .success(.duplicate): break
                default: failures += 1
                }
            }
        }
    }
}

func freshStore(_ round: Int, _ label: String) throws -> (PieceStore, String) {
    let path = "\(folder)/\(label)-\(round)"
    try? FileManager.default.removeItem(atPath: path)
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return (PieceStore(torrent: torrent, storage: FileStorage(torrent: torrent, folder: path)), path)
}

func writeArrays(_ store: PieceStore, _ tally: Tally) async {
    var start = 0
    while start < allBlocks.count {
        let batch = allBlocks[start..<min(start + 32, allBlocks.count)].map {
            BlockWrite(
                piece: $0.request.piece, offset: $0.request.offset, bytes: Array($0.bytes.readableBytesView),
                from: $0.peer)
        }
        tally.count(await store.writeBlocks(batch))
        start += 32
    }
}

func writeBuffers(_ store: PieceStore, _ tally: Tally) async {
    var start = 0
    while start < allBlocks.count {
        tally.count(await store.writeBlocks(Array(allBlocks[start..<min(start + 32, allBlocks.count)])))
        start += 32
    }
}

func writeFrontEnd(_ store: PieceStore, _ tally: Tally) async throws {
    let pacer = Pacer(limit: paceMebibytes << 20)
    let batches = Locked(0)
    let writer = PieceStore.BlockWriter(store: store) { outcomes in
        tally.count(outcomes.map(\.result))
        batches.withLock { $0 += 1 }
        pacer.done(outcomes.count * blockSize)
    }
    for block in allBlocks {
        await pacer.waitForRoom()
        pacer.add(blockSize)
        try writer.enqueue(block)
    }
    await writer.shutdown()
    frontEndBatches.append(batches.withLock { $0 })
}
nonisolated(unsafe) var frontEndBatches: [Int] = []

final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withLock<T>(_ body: (inout Value) -> T) -> T { lock.withLock { body(&value) } }
}

let requests = allBlocks.map(\.request)

func readArrays(_ store: PieceStore) async throws -> Int {
    let allocator = ByteBufferAllocator()
    var checksum = 0
    var start = 0
    while start < requests.count {
        for result in await store.readBlocks(Array(requests[start..<min(start + 64, requests.count)])) {
            let bytes = try result.get()
            var buffer = allocator.buffer(capacity: bytes.count)
            buffer.writeBytes(bytes)
            checksum &+= Int(buffer.getInteger(at: 100, as: UInt8.self)!)
        }
        start += 64
    }
    return checksum
}

/// Batches the reader made in the last read round.
let readBatches = Locked(0)

func readFrontEnd(_ store: PieceStore) async throws -> Int {
    readBatches.withLock { $0 = 0 }
    let pacer = Pacer(limit: 4 << 20)
    let checksum = Locked(0)
    let failures = Locked(0)
    let reader = PieceStore.BlockReader<Int>(store: store, allocator: ByteBufferAllocator()) { outcomes in
        var sum = 0
        for outcome in outcomes {
            switch outcome.result {
            case .success(let buffer): sum &+= Int(buffer.getInteger(at: buffer.readerIndex + 100, as: UInt8.self)!)
            case .failure: failures.withLock { $0 += 1 }
            }
        }
        checksum.withLock { $0 &+= sum }
        readBatches.withLock { $0 += 1 }
        pacer.done(outcomes.count * blockSize)
    }
    // Requests come in bursts, as a socket read holds many 17-byte request messages that the engine's loop
    // handles in one go: the producer waits for room once per burst.
    for (index, request) in requests.enumerated() {
        if index % readBurst == 0 { await pacer.waitForRoom() }
        pacer.add(blockSize)
        try reader.enqueue(request, for: index)
    }
    await reader.shutdown()
    precondition(failures.withLock { $0 } == 0, "a read failed")
    return checksum.withLock { $0 }
}

print(
    "StorageFrontBench: \(totalBytes) bytes, \(pieceCount) pieces of \(pieceLength), \(allBlocks.count) blocks, \(rounds) rounds, folder \(folder)"
)
var results: [String: [Measurement]] = [:]
@MainActor func record(_ label: String, _ round: Int, _ measurement: Measurement, _ note: String = "") {
    results[label, default: []].append(measurement)
    let rate = Double(totalBytes) / measurement.wall / 1e6
    print(
        "\(pad(label)) round \(round): wall \(fixed(measurement.wall)) s  \(fixed(rate, 0)) MB/s  cpu \(fixed(measurement.cpu)) s"
            + " (user \(fixed(measurement.user)), sys \(fixed(measurement.system)))  \(note)")
}
func pad(_ text: String) -> String { text.padding(toLength: 16, withPad: " ", startingAt: 0) }
func fixed(_ value: Double, _ digits: Int = 3) -> String { String(format: "%.\(digits)f", value) }

let writeVariants = ["write arrays", "write buffers", "write front end"]
/// Whether to run `label` in `round` under `--only` (reads need one written copy: the last round's buffers).
func wanted(_ label: String, round: Int) -> Bool {
    guard let only else { return true }
    return label.hasPrefix(only) || (only.hasPrefix("read") && label == "write buffers" && round == rounds)
}
var lastStore: PieceStore?
for round in 1...rounds {
    // Every variant takes every place in the order (the place matters on a busy machine: see RESULTS.md).
    let shift: Int = (round - 1) % writeVariants.count
    let order: [String] = Array(writeVariants[shift...]) + Array(writeVariants[..<shift])
    for label in order where wanted(label, round: round) {
        let (store, path) = try freshStore(round, label.replacingOccurrences(of: " ", with: "-"))
        let tally = Tally()
        let measurement = try await measure {
            switch label {
            case "write arrays": await writeArrays(store, tally)
            case "write buffers": await writeBuffers(store, tally)
            default: try await writeFrontEnd(store, tally)
            }
        }
        precondition(
            tally.verified == pieceCount && tally.failures == 0,
            "\(label): \(tally.verified) verified, \(tally.failures) failures")
        let note = label == "write front end" ? "(\(frontEndBatches.last ?? 0) batches)" : ""
        record(label, round, measurement, note)
        if round == rounds && lastStore == nil {  // kept for the reads
            lastStore = store
        } else {
            try FileManager.default.removeItem(atPath: path)
        }
    }
}
guard only.map({ $0.hasPrefix("read") }) ?? true else { exit(0) }
let readStore = lastStore!
_ = try await readArrays(readStore)  // warm the page cache and the handles
for round in 1...rounds {
    let order = round % 2 == 1 ? ["read arrays", "read front end"] : ["read front end", "read arrays"]
    for label in order where only.map({ label.hasPrefix($0) }) ?? true {
        var sum = 0
        let measurement = try await measure {
            sum = label == "read arrays" ? try await readArrays(readStore) : try await readFrontEnd(readStore)
        }
        let batches = label == "read front end" ? ", \(readBatches.withLock { $0 }) batches" : ""
        record(label, round, measurement, "(checksum \(sum)\(batches))")
    }
}
try? FileManager.default.removeItem(atPath: folder)

print("\nmedians of \(rounds) rounds (MB = 10^6 bytes; CPU = user + system of the process over the variant)")
for label in writeVariants + ["read arrays", "read front end"] {
    guard let runs = results[label] else { continue }
    func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
    let wall = median(runs.map(\.wall))
    let cpu = median(runs.map(\.cpu))
    print(
        "\(pad(label)) wall \(fixed(wall)) s  \(fixed(Double(totalBytes) / wall / 1e6, 0)) MB/s  cpu \(fixed(cpu)) s"
            + "  (\(fixed(cpu * Double(1 << 30) / Double(totalBytes), 2)) CPU s per GiB)")
}
