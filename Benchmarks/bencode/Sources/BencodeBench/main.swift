import BTBencode
import Foundation

// Usage: BencodeBench FILE ITERATIONS
// Decodes FILE (lenient, as a client reads torrents) ITERATIONS times after a warm-up and prints
// "ours <seconds per decode> <MB/s>". Each decode also touches the root so work cannot be skipped.
let arguments = CommandLine.arguments
guard arguments.count == 3, let iterations = Int(arguments[2]),
    let data = FileManager.default.contents(atPath: arguments[1])
else {
    FileHandle.standardError.write("usage: BencodeBench FILE ITERATIONS\n".data(using: .utf8)!)
    exit(2)
}
let bytes = [UInt8](data)
var sink = 0
for _ in 0..<max(1, iterations / 10) {
    sink &+= try BencodeDocument(bytes, options: .lenient).valueCount
}
let clock = ContinuousClock()
var best = Duration.seconds(1_000)
var total = Duration.zero
for _ in 0..<iterations {
    let start = clock.now
    let document = try BencodeDocument(bytes, options: .lenient)
    sink &+= document.valueCount
    let elapsed = clock.now - start
    total += elapsed
    best = min(best, elapsed)
}
func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}
let mean = seconds(total) / Double(iterations)
print(String(format: "ours %.9f %.1f best %.9f sink %d", mean, Double(bytes.count) / mean / 1e6, seconds(best), sink))
