import BTMetainfo
import BTStorage
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Piece indexes from the child's `verified N` lines.
private func verifiedLines(_ text: String) -> [Int] {
    text.split(separator: "\n").compactMap { line in
        line.hasPrefix("verified ") ? Int(line.dropFirst("verified ".count)) : nil
    }
}

/// The `nbt` executable built beside the tests (or `$NBT`).
private func nbtExecutable() -> String? {
    if let path = ProcessInfo.processInfo.environment["NBT"], !path.isEmpty { return path }
    var folder = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    while folder.path != "/" {
        let candidate = folder.appendingPathComponent("nbt").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        folder = folder.deletingLastPathComponent()
    }
    return nil
}

/// Kill -9 at random moments during a download, restart from resume data, repeat: every piece the child
/// ever reported verified, and every piece its resume data calls verified, holds the original bytes at that
/// moment; at the end every file is byte-identical to the original.
@Test(.timeLimit(.minutes(5)))
func killNineAtRandomMomentsNeverLosesOrCorruptsData() async throws {
    let executable = try #require(nbtExecutable(), "build the nbt executable first (swift build --build-tests)")
    var generator = SeededGenerator(seed: UInt64(UInt32(truncatingIfNeeded: getpid())))
    let folder = try TemporaryFolder("nbt-soak")
    defer { folder.cleanup() }
    let source = folder.path + "/source"
    let target = folder.path + "/target"
    let resume = folder.path + "/resume.dat"
    let pieceLength = 32768

    // Files (sorted by path, as the soak helper lists them), including empty ones.
    // About 500 blocks; the child writes one per millisecond at most.
    let sizes = [300_000, 0, 3_234_567, 65536, 1, 2_900_000, 0, 1_777_777]
    var stream: [UInt8] = []
    var names: [String] = []
    for (index, size) in sizes.enumerated() {
        let name = "d\(index % 3)/f\(index).bin"
        names.append(name)
        try FileManager.default.createDirectory(atPath: source + "/d\(index % 3)", withIntermediateDirectories: true)
        let bytes = (0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) }
        try Data(bytes).write(to: URL(fileURLWithPath: source + "/" + name))
    }
    let order = names.indices.sorted { names[$0] < names[$1] }
    var files: [TorrentFile] = []
    for index in order {
        let data = try Data(contentsOf: URL(fileURLWithPath: source + "/" + names[index]))
        files.append(
            TorrentFile(
                path: names[index].split(separator: "/").map(String.init), length: Int64(data.count),
                offset: Int64(stream.count)))
        stream += data
    }
    let layout = PieceLayout(pieceLength: pieceLength, files: files)

    func pieceOnDiskMatches(_ piece: Int) -> Bool {
        let storage = FileStorage(layout: layout, paths: files.map(\.path), folder: target)
        var buffer = [UInt8](repeating: 0, count: layout.size(ofPiece: piece))
        let complete = (try? buffer.withUnsafeMutableBytes { try storage.readPiece(piece, into: $0) }) ?? false
        let start = Int(layout.offset(ofPiece: piece))
        return complete && buffer[...] == stream[start..<(start + buffer.count)]
    }

    /// Starts the child; its output is collected as it arrives. With `killAfter`, the child is sent SIGKILL
    /// `delay` milliseconds after it has reported that many verified pieces — from the pipe's own thread, so the
    /// moment does not depend on how busy the test's threads are.
    func launch(killAfter: Int? = nil, delay: Int = 0) throws -> (Process, Locked<String>, Pipe) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [
            "_storage-soak", "--source", source, "--target", target, "--resume", resume,
            "--piece-length", "\(pieceLength)", "--save-every", "8", "--block-delay-microseconds", "1000",
        ]
        let output = Pipe()
        let text = Locked("")
        let pid = Locked<Int32>(0)
        let armed = Locked(killAfter != nil)
        output.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty {
                handle.readabilityHandler = nil  // end of file
                return
            }
            let current = text.withLock { value -> String in
                value += String(decoding: data, as: UTF8.self)
                return value
            }
            guard let killAfter, verifiedLines(current).count >= killAfter else { return }
            let fire = armed.withLock { value -> Bool in
                let wasArmed = value
                value = false
                return wasArmed
            }
            guard fire else { return }
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(delay)) {
                // Never signal a child that already finished (its pid could be reused).
                guard !text.withLock({ $0.contains("complete") }) else { return }
                let target = pid.withLock { $0 }
                if target > 0 { kill(target, SIGKILL) }
            }
        }
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        pid.withLock { $0 = process.processIdentifier }
        return (process, text, output)
    }

    func finish(_ process: Process, _ text: Locked<String>, _ output: Pipe) -> String {
        while process.isRunning { Thread.sleep(forTimeInterval: 0.01) }
        // Let the last bytes drain, then stop watching the pipe before it is released.
        Thread.sleep(forTimeInterval: 0.05)
        output.fileHandleForReading.readabilityHandler = nil
        return text.withLock { $0 }
    }

    var kills = 0
    var killsMidDownload = 0
    var reportedEver = Set<Int>()
    for _ in 0..<25 {
        let (process, text, pipe) = try launch(
            killAfter: Int.random(in: 1...4, using: &generator), delay: Int.random(in: 0...20, using: &generator))
        while process.isRunning { try await Task.sleep(for: .milliseconds(10)) }
        let finished = process.terminationReason == .exit
        if !finished { kills += 1 }
        let output = finish(process, text, pipe)
        let reported = verifiedLines(output)
        if !finished && !reported.isEmpty { killsMidDownload += 1 }
        reportedEver.formUnion(reported)
        for piece in reported { #expect(pieceOnDiskMatches(piece), "reported piece \(piece) is wrong on disk") }
        if let bytes = try? Data(contentsOf: URL(fileURLWithPath: resume)) {
            let data = try ResumeData(bytes: Array(bytes))
            for piece in data.verified.setIndexes {
                #expect(pieceOnDiskMatches(piece), "resume data calls piece \(piece) verified but it is wrong")
            }
        }
        if finished { break }
    }
    #expect(killsMidDownload >= 10, "the child was not killed mid-download often enough (\(kills) kills)")

    let (process, text, pipe) = try launch()
    let deadline = Date().addingTimeInterval(120)
    while process.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    let output = finish(process, text, pipe)
    #expect(process.terminationStatus == 0, "final run: \(output.suffix(300))")
    #expect(output.contains("complete"))
    for piece in verifiedLines(output) { #expect(pieceOnDiskMatches(piece), "reported piece \(piece) is wrong") }
    for name in names {
        let original = try Data(contentsOf: URL(fileURLWithPath: source + "/" + name))
        let copy = try? Data(contentsOf: URL(fileURLWithPath: target + "/" + name))
        #expect(copy == original, "\(name) differs")
    }
    #expect(reportedEver.count > 0)
    print(
        "kill -9 soak: \(kills) kills, \(killsMidDownload) after pieces verified, \(reportedEver.count) pieces reported"
    )
}
