import ArgumentParser
import BTStorage
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Hidden test helper for BTStorage's SIGBUS guard (the mapped hash check's safety net): installs the
/// guard, maps one page of a scratch file, truncates the file and touches the page. With `--inside` the page
/// lies in a window registered the way a mapped check registers its runs, so the guard must absorb the
/// fault (the read sees zeros, exit 0, `absorbed` printed); without it the fault is outside every window
/// and must still end the process with SIGBUS, as must a SIGBUS sent with `--send` (when Swift's crash
/// backtracer, which lets a process go on after a sent SIGBUS, is off). Run by
/// Tests/cli/sigbus_guard.sh in a process of its own (an exit test inside the test binary would wait on
/// every child the suite ever started).
struct SigbusProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "_sigbus-probe", abstract: "SIGBUS guard probe (tests only).", shouldDisplay: false)

    @Flag(help: "Touch a page inside a registered window (the fault must be absorbed).") var inside = false
    @Flag(help: "Send SIGBUS to this process instead of faulting (it must end the process).") var send = false
    @Argument(help: "A folder for the scratch file.") var folder: String

    func run() throws {
        #if os(Linux)
            let page = MappedWindowGuard.pageSize
            // Install the handler: a window is registered and released again.
            let scratch = mmap(nil, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)!
            guard let first = MappedWindowGuard.register(UnsafeRawPointer(scratch), length: page) else {
                throw ValidationError("the guard could not be installed")
            }
            MappedWindowGuard.unregister(first)
            if send {
                kill(getpid(), SIGBUS)
                sleep(5)
                print("still running after SIGBUS was sent")
                return
            }
            let path = (folder as NSString).appendingPathComponent("nbt-sigbus-\(getpid())")
            let descriptor = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o600)
            guard descriptor >= 0, ftruncate(descriptor, off_t(page)) == 0,
                let mapped = mmap(nil, page, PROT_READ, MAP_SHARED, descriptor, 0),
                mapped != MAP_FAILED
            else { throw ValidationError("cannot map a scratch file in \(folder)") }
            let slot = inside ? MappedWindowGuard.register(UnsafeRawPointer(mapped), length: page) : nil
            _ = ftruncate(descriptor, 0)
            unlink(path)
            let byte = mapped.load(as: UInt8.self)
            if let slot {
                let truncated = MappedWindowGuard.wasTruncated(slot)
                MappedWindowGuard.unregister(slot)
                print(truncated && byte == 0 ? "absorbed" : "not flagged (byte \(byte))")
            } else {
                print("read \(byte) past the end of a file without SIGBUS")
            }
        #else
            throw ValidationError("the SIGBUS guard exists on Linux only")
        #endif
    }
}
