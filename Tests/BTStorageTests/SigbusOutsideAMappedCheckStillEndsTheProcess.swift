#if os(Linux)
    import BTStorage
    import Foundation
    import Glibc
    import Testing

    /// The guard only absorbs faults inside windows a mapped check registered: once its handler is installed,
    /// a fault past the end of some other mapping of a truncated file still ends the process with SIGBUS,
    /// and so does a SIGBUS sent by another process.
    @Test func sigbusOutsideAMappedCheckStillEndsTheProcess() async {
        await #expect(processExitsWith: .signal(SIGBUS)) {
            // Install the handler (a window is registered and unregistered again).
            let page = MappedWindowGuard.pageSize
            let scratch = mmap(nil, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)!
            let slot = MappedWindowGuard.register(UnsafeRawPointer(scratch), length: page)!
            MappedWindowGuard.unregister(slot)
            // A page of a file that is then cut to nothing: touching it faults outside every window.
            let path = "/tmp/nbt-sigbus-\(getpid())"
            let descriptor = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o600)
            _ = ftruncate(descriptor, off_t(page))
            let mapped = mmap(nil, page, PROT_READ, MAP_SHARED, descriptor, 0)!
            _ = ftruncate(descriptor, 0)
            unlink(path)
            let byte = mapped.load(as: UInt8.self)
            print("read \(byte) past the end of a file without SIGBUS")
        }
        await #expect(processExitsWith: .signal(SIGBUS)) {
            let page = MappedWindowGuard.pageSize
            let scratch = mmap(nil, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)!
            let slot = MappedWindowGuard.register(UnsafeRawPointer(scratch), length: page)!
            MappedWindowGuard.unregister(slot)
            kill(getpid(), SIGBUS)
            sleep(5)
        }
    }
#endif
