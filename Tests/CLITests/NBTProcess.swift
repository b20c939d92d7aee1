import Foundation

/// Runs the built `nbt` executable (it sits beside the test bundle in the build folder).
struct NBTProcess {
    /// Output and exit status of one run.
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static var executable: URL {
        if let path = ProcessInfo.processInfo.environment["NBT"], !path.isEmpty { return URL(fileURLWithPath: path) }
        let testBinary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var folder = testBinary.deletingLastPathComponent()
        // On Linux the tests run from `<build>/debug/NetBitTorrentPackageTests.xctest`.
        while !FileManager.default.fileExists(atPath: folder.appendingPathComponent("nbt").path) && folder.path != "/" {
            folder = folder.deletingLastPathComponent()
        }
        return folder.appendingPathComponent("nbt")
    }

    /// Runs `nbt` with `arguments` and waits for it; the process is killed after `timeout` seconds.
    static func run(_ arguments: [String], currentDirectory: URL? = nil, timeout: Double = 300) throws -> Result {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        // No test may reach the public DHT routers (nbt's DHT then runs only with explicit loopback nodes).
        process.environment = ProcessInfo.processInfo.environment.merging(["NBT_NO_PUBLIC_DHT": "1"]) { _, new in new }
        if let currentDirectory { process.currentDirectoryURL = currentDirectory }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let killer = DispatchWorkItem { if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: killer)
        // Drain stderr on another thread so a chatty child cannot fill one pipe while we wait on the other.
        nonisolated(unsafe) var errData = Data()
        let errDone = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            errData = err.fileHandleForReading.readDataToEndOfFile()
            errDone.signal()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        errDone.wait()
        process.waitUntilExit()
        killer.cancel()
        return Result(
            status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self))
    }
}
