import ArgumentParser
import Crypto
import Dispatch
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Hidden benchmark helper: the machine's SHA-1 ceiling as the hash check sees it, i.e. swift-crypto's
/// `Insecure.SHA1` fed `--chunk`-byte updates from a buffer that stays in cache, on 1...`--threads` threads at
/// once. Prints one line per thread count: `threads=N bytes=B wall=S cpu=S MBps=R MBperCPUs=R`
/// (MB = 10^6 bytes; MBps is all threads together over wall time).
struct SHA1BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "_sha1-bench", abstract: "SHA-1 throughput benchmark (benchmarks only).", shouldDisplay: false)

    @Option(help: "Mebibytes hashed by each thread.") var mebibytes: Int = 1024
    @Option(help: "Bytes per hasher update.") var chunk: Int = 262_144
    @Option(help: "Bytes per digest (a piece).") var piece: Int = 1_048_576
    @Option(help: "Largest number of threads hashing at once.") var threads: Int = 2

    func validate() throws {
        guard mebibytes > 0, chunk > 0, piece >= chunk, threads > 0 else {
            throw ValidationError("sizes and thread count must be positive, piece >= chunk")
        }
    }

    func run() throws {
        for count in 1...threads {
            let perThread = Int64(mebibytes) << 20
            let (wall, cpu) = Self.measure {
                DispatchQueue.concurrentPerform(iterations: count) { _ in
                    Self.hash(bytes: perThread, chunk: chunk, piece: piece)
                }
            }
            let total = Double(perThread) * Double(count)
            print(
                "threads=\(count) bytes=\(Int64(total)) wall=\(String(format: "%.3f", wall)) "
                    + "cpu=\(String(format: "%.3f", cpu)) MBps=\(String(format: "%.0f", total / wall / 1e6)) "
                    + "MBperCPUs=\(String(format: "%.0f", total / cpu / 1e6))")
        }
    }

    /// Hashes `bytes` bytes of one reused `piece`-sized buffer, `chunk` bytes per update, one digest per piece.
    static func hash(bytes: Int64, chunk: Int, piece: Int) {
        var buffer = [UInt8](repeating: 0, count: piece)
        for index in buffer.indices { buffer[index] = UInt8(truncatingIfNeeded: index &* 31) }
        var left = bytes
        var sink: UInt8 = 0
        buffer.withUnsafeBytes { raw in
            while left > 0 {
                var hasher = Insecure.SHA1()
                var done = 0
                while done < piece && left > 0 {
                    let count = min(chunk, piece - done, Int(left))
                    hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: raw[done..<(done + count)]))
                    done += count
                    left -= Int64(count)
                }
                sink ^= hasher.finalize().withUnsafeBytes { $0[0] }
            }
        }
        if Int(sink) > 255 { print("") }  // never true: keeps the digests alive
    }

    /// Wall seconds and process CPU seconds (user + system) spent in `body`.
    static func measure(_ body: () -> Void) -> (wall: Double, cpu: Double) {
        func cpuNow() -> Double {
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec)
                + Double(usage.ru_stime.tv_usec) / 1e6
        }
        let startCPU = cpuNow()
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        let wall = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return (wall, cpuNow() - startCPU)
    }
}
