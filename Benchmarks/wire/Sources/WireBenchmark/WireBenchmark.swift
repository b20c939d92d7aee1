import BTMetainfo
import BTWire
import Crypto
import NIOCore

#if canImport(Glibc)
    import Glibc
#endif

/// Monotonic seconds.
func seconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Runs `body` repeatedly for about `budget` seconds; returns (iterations, elapsed).
func measure(_ budget: Double, _ body: () -> Void) -> (Int, Double) {
    body()  // warm up
    var iterations = 0
    let start = seconds()
    var now = start
    while now - start < budget {
        body()
        iterations += 1
        now = seconds()
    }
    return (iterations, now - start)
}

@inline(never) func blackHole<T>(_ value: T) { withExtendedLifetime(value) {} }

@main
struct WireBenchmark {
    static func main() throws {
        let budget = Double(CommandLine.arguments.dropFirst().first ?? "2") ?? 2
        var rng = SystemRandomNumberGenerator()
        let pieceCount = 4096
        let block = ByteBuffer(bytes: (0..<16384).map { _ in UInt8.random(in: 0...255, using: &rng) })

        // 1. Block framing: a stream of 256 piece messages (4 MiB of data) arriving in 64 KiB socket reads
        // (every read ends inside a message, whose bytes the decoder must copy once).
        var stream = ByteBuffer()
        for i in 0..<256 {
            PeerMessage.piece(Block(piece: i % pieceCount, offset: 0, data: block)).encode(into: &stream)
        }
        let chunks: [ByteBuffer] = stride(from: 0, to: stream.readableBytes, by: 65536).map {
            stream.getSlice(at: $0, length: min(65536, stream.readableBytes - $0))!
        }
        let limits = PeerMessageDecoder.Limits(pieceCount: pieceCount)
        var framed = 0
        let (frameRuns, frameTime) = measure(budget) {
            var decoder = PeerMessageDecoder(limits: limits)
            for chunk in chunks {
                decoder.append(chunk)
                while let message = try! decoder.next() {
                    if case .piece(let b) = message { framed &+= b.data.readableBytes }
                }
            }
        }
        let framingBytesPerSecond = Double(frameRuns * 256 * 16384) / frameTime

        // 1b. The same stream in one buffer (no message split across reads): the parse cost alone.
        var inPlace = 0
        let (wholeRuns, wholeTime) = measure(budget) {
            var decoder = PeerMessageDecoder(limits: limits)
            decoder.append(stream)
            while let message = try! decoder.next() {
                if case .piece(let b) = message { inPlace &+= b.data.readableBytes }
            }
        }
        let inPlaceBytesPerSecond = Double(wholeRuns * 256 * 16384) / wholeTime

        // 2. SHA-1 over the same blocks (what a client does with every byte it frames).
        var digest = Insecure.SHA1()
        let (hashRuns, hashTime) = measure(budget) {
            var hasher = Insecure.SHA1()
            for _ in 0..<16 { block.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) } }
            digest = hasher
        }
        blackHole(digest.finalize())
        let sha1BytesPerSecond = Double(hashRuns * 16 * 16384) / hashTime

        // 3. A realistic message mix from a downloading connection: per 100 messages, 40 blocks, 30 have,
        // 15 requests, 5 cancels, 4 keep-alives, 3 interest/choke changes, 2 extended (ut_pex), 1 bitfield.
        var mix = ByteBuffer()
        var mixCount = 0
        let pex = ByteBuffer(bytes: PEXMessage(added: [PeerAddress(ip: [10, 0, 0, 1], port: 6881)!]).encoded())
        let bits = ByteBuffer(bytes: Bitfield(count: pieceCount, allSet: true).bytes)
        for round in 0..<100 {
            var messages: [PeerMessage] = []
            for i in 0..<40 {
                messages.append(.piece(Block(piece: (round + i) % pieceCount, offset: i * 16384 % 65536, data: block)))
            }
            for i in 0..<30 { messages.append(.have(piece: (round * 30 + i) % pieceCount)) }
            for i in 0..<15 { messages.append(.request(BlockRequest(piece: i, offset: 0, length: 16384))) }
            for i in 0..<5 { messages.append(.cancel(BlockRequest(piece: i, offset: 0, length: 16384))) }
            for _ in 0..<4 { messages.append(.keepAlive) }
            messages += [.interested, .unchoke, .choke]
            messages += [
                .extended(ExtendedMessage(id: 1, payload: pex)), .extended(ExtendedMessage(id: 1, payload: pex)),
            ]
            messages.append(.bitfield(bits))
            for message in messages { message.encode(into: &mix) }
            mixCount += messages.count
        }
        let mixChunks: [ByteBuffer] = stride(from: 0, to: mix.readableBytes, by: 65536).map {
            mix.getSlice(at: $0, length: min(65536, mix.readableBytes - $0))!
        }
        var decodedCount = 0
        let (mixRuns, mixTime) = measure(budget) {
            var decoder = PeerMessageDecoder(limits: limits)
            for chunk in mixChunks {
                decoder.append(chunk)
                while let message = try! decoder.next() {
                    decodedCount &+= 1
                    blackHole(message)
                }
            }
        }
        let mixMessagesPerSecond = Double(mixRuns * mixCount) / mixTime

        // 4. Control messages only (no block payload): the decoder's per-message cost.
        var control = ByteBuffer()
        var controlCount = 0
        for i in 0..<10_000 {
            let message: PeerMessage =
                switch i % 4 {
                case 0: .have(piece: i % pieceCount)
                case 1: .request(BlockRequest(piece: i % pieceCount, offset: 0, length: 16384))
                case 2: .cancel(BlockRequest(piece: i % pieceCount, offset: 16384, length: 16384))
                default: .keepAlive
                }
            message.encode(into: &control)
            controlCount += 1
        }
        let (controlRuns, controlTime) = measure(budget) {
            var decoder = PeerMessageDecoder(limits: limits)
            decoder.append(control)
            while let message = try! decoder.next() { blackHole(message) }
        }
        let controlMessagesPerSecond = Double(controlRuns * controlCount) / controlTime

        // 5. Encoding block headers plus data (what a seeder writes).
        let (encodeRuns, encodeTime) = measure(budget) {
            var out = ByteBufferAllocator().buffer(capacity: 256 * (16384 + 13))
            for i in 0..<256 { PeerMessage.piece(Block(piece: i, offset: 0, data: block)).encode(into: &out) }
            blackHole(out)
        }
        let encodeBytesPerSecond = Double(encodeRuns * 256 * 16384) / encodeTime

        func mb(_ v: Double) -> String { String(format: "%.1f MB/s", v / 1e6) }
        print("BTWire benchmark (release, \(budget) s per measurement)")
        print("  block framing (decode 16 KiB piece messages): \(mb(framingBytesPerSecond))")
        print("  block framing, one 4 MiB buffer (no splits):   \(mb(inPlaceBytesPerSecond))")
        print("  SHA-1 over the same blocks (swift-crypto):     \(mb(sha1BytesPerSecond))")
        print(
            String(
                format: "  framing cost / SHA-1 cost per byte:           %.3f%%  (target < 5%%)",
                100 * sha1BytesPerSecond / framingBytesPerSecond))
        print(
            String(
                format: "  framing cost / SHA-1 cost, no splits:         %.3f%%",
                100 * sha1BytesPerSecond / inPlaceBytesPerSecond))
        print("  block encoding (header + copy of data):       \(mb(encodeBytesPerSecond))")
        print(String(format: "  realistic mix (40%% blocks):                   %.0f messages/s", mixMessagesPerSecond))
        print(
            String(format: "  control messages only (have/request/cancel):  %.0f messages/s", controlMessagesPerSecond))
        blackHole((framed, decodedCount, inPlace))
    }
}
