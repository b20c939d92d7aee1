#if os(Linux)
    import Glibc
    import Synchronization

    /// Makes reading a memory-mapped file safe against the file being truncated meanwhile: a process-wide
    /// `SIGBUS` handler that turns a fault inside a registered window into zeros and a flag, instead of a crash.
    ///
    /// Touching a page of a `MAP_SHARED` file mapping that lies wholly past the file's current end (another
    /// program truncated it after it was mapped) raises `SIGBUS` on the touching thread. The mapped hash check
    /// (``HashCheckMode/mapped``) reserves one window of address space per run of pieces, maps the run's file
    /// ranges into it, and registers the window here before touching any byte of it. The handler, installed
    /// once (`sigaction`, `SA_SIGINFO`):
    /// - looks the faulting address up in a small fixed table of windows (``slotCount`` slots, each a start,
    ///   an end, a "truncated" flag and a sequence number, all `Atomic<Int>` from the Synchronization module);
    /// - when a registered window holds it, maps an anonymous zero page over the faulting page (`mmap` with
    ///   `MAP_FIXED`), sets the window's flag and returns: the interrupted instruction runs again and reads
    ///   zeros. The check then counts the window's pieces (or those of the files whose size changed, see
    ///   ``MappedRun``) as not verified;
    /// - for any other `SIGBUS` it restores the action that was installed before it (the default, or the Swift
    ///   runtime's crash reporter) and lets the fault happen again (or re-raises a signal sent by `kill`), so a
    ///   real bus error still ends the process as before.
    ///
    /// Why this is sound:
    /// - The handler only loads and stores lock-free atomics through a pointer allocated (and a page size read)
    ///   before the handler is installed, and calls `mmap`, `sigaction` and `raise`, which are system calls
    ///   (`sigaction` and `raise` are async-signal-safe by POSIX; glibc's `mmap` is a plain system call
    ///   wrapper that takes no lock). It allocates nothing and takes no lock.
    /// - A slot is claimed by one thread at a time (compare-and-exchange on its `owner`), and only that thread
    ///   writes its start and end, inside a sequence lock (odd while writing), so the handler, on whatever
    ///   thread faults, never trusts a half-written window: it skips a slot whose sequence changed or is odd.
    ///   A window is registered after its mappings exist and unregistered before they are unmapped, so an
    ///   address inside a registered window is always one of the check's own read-only mappings: replacing a
    ///   page of it by zeros cannot corrupt anybody's data.
    /// - A fault can only occur while the owner reads the window, never while it writes a slot (the table is
    ///   ordinary anonymous memory), so the handler never waits for the thread it interrupted.
    ///
    /// What it does not cover: a mapping that is not registered (nothing else in BTStorage maps files), and
    /// more than ``slotCount`` windows at once (the check then reads that run with `pread` instead).
    package enum MappedWindowGuard {
        /// Windows that can be registered at once (one per worker of every mapped check running).
        package static let slotCount = 64

        /// Per slot: owner (0 free, 1 taken), sequence, start, end, truncated (0 or 1).
        private static let fieldsPerSlot = 5
        private static let owner = 0
        private static let sequence = 1
        private static let start = 2
        private static let end = 3
        private static let truncated = 4

        /// The slot table, followed by the page size and the count of absorbed faults: allocated once and never
        /// freed, so the handler can read it at any time.
        nonisolated(unsafe) private static let table: UnsafeMutablePointer<Atomic<Int>> = {
            let count = slotCount * fieldsPerSlot + 2
            let pointer = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: count)
            for index in 0..<count { (pointer + index).initialize(to: Atomic(0)) }
            pointer[slotCount * fieldsPerSlot].store(
                Int(sysconf(Int32(_SC_PAGESIZE))), ordering: .sequentiallyConsistent)
            return pointer
        }()

        /// The `SIGBUS` action before ours (restored for faults that are not ours). Behind a pointer, not a
        /// Swift variable, so the handler's access has no exclusivity bookkeeping.
        nonisolated(unsafe) private static let previous: UnsafeMutablePointer<sigaction> = {
            let pointer = UnsafeMutablePointer<sigaction>.allocate(capacity: 1)
            pointer.initialize(to: sigaction())
            return pointer
        }()

        /// Installs the handler the first time it is called (thread-safe: a lazy static).
        private static let installed: Bool = {
            _ = table  // allocated before the handler can run
            _ = previous
            var action = sigaction()
            action.__sigaction_handler.sa_sigaction = { signal, info, context in
                MappedWindowGuard.handle(signal: signal, info: info)
            }
            action.sa_flags = Int32(SA_SIGINFO)
            sigemptyset(&action.sa_mask)
            return sigaction(SIGBUS, &action, previous) == 0
        }()

        /// The system's page size.
        package static var pageSize: Int { table[slotCount * fieldsPerSlot].load(ordering: .sequentiallyConsistent) }

        /// How many faults past the end of a file the handler has absorbed since the process started.
        package static var absorbedFaults: Int {
            table[slotCount * fieldsPerSlot + 1].load(ordering: .sequentiallyConsistent)
        }

        private static func field(_ slot: Int, _ field: Int) -> UnsafeMutablePointer<Atomic<Int>> {
            table + slot * fieldsPerSlot + field
        }

        /// Registers the window `[address, address + length)` (the check's own mapping, already mapped) and
        /// returns its slot, or nil when the handler could not be installed or every slot is taken.
        package static func register(_ address: UnsafeRawPointer, length: Int) -> Int? {
            guard installed else { return nil }
            for slot in 0..<slotCount
            where field(slot, owner).pointee.compareExchange(
                expected: 0, desired: 1, ordering: .sequentiallyConsistent
            ).exchanged {
                write(slot, start: Int(bitPattern: address), end: Int(bitPattern: address) + length)
                return slot
            }
            return nil
        }

        /// Whether a fault past the end of a file was absorbed in the window of `slot` since it was registered.
        package static func wasTruncated(_ slot: Int) -> Bool {
            field(slot, truncated).pointee.load(ordering: .sequentiallyConsistent) != 0
        }

        /// Unregisters the window of `slot` (before it is unmapped) and frees the slot.
        package static func unregister(_ slot: Int) {
            write(slot, start: 0, end: 0)
            field(slot, owner).pointee.store(0, ordering: .sequentiallyConsistent)
        }

        private static func write(_ slot: Int, start newStart: Int, end newEnd: Int) {
            let sequenceField = field(slot, sequence)
            sequenceField.pointee.wrappingAdd(1, ordering: .sequentiallyConsistent)  // odd: being written
            field(slot, start).pointee.store(newStart, ordering: .sequentiallyConsistent)
            field(slot, end).pointee.store(newEnd, ordering: .sequentiallyConsistent)
            field(slot, truncated).pointee.store(0, ordering: .sequentiallyConsistent)
            sequenceField.pointee.wrappingAdd(1, ordering: .sequentiallyConsistent)  // even: stable
        }

        /// The slot whose window holds `address`, or nil. Async-signal-safe (atomic loads only).
        private static func slot(holding address: Int) -> Int? {
            for slot in 0..<slotCount {
                // A slot being rewritten by its owner (another thread) is retried a bounded number of times.
                for _ in 0..<1000 {
                    let before = field(slot, sequence).pointee.load(ordering: .sequentiallyConsistent)
                    if before & 1 == 1 { continue }
                    let low = field(slot, start).pointee.load(ordering: .sequentiallyConsistent)
                    let high = field(slot, end).pointee.load(ordering: .sequentiallyConsistent)
                    guard field(slot, sequence).pointee.load(ordering: .sequentiallyConsistent) == before else {
                        continue
                    }
                    if low != 0 && address >= low && address < high { return slot }
                    break
                }
            }
            return nil
        }

        /// The signal handler (runs on the faulting thread).
        private static func handle(signal: Int32, info: UnsafeMutablePointer<siginfo_t>?) {
            if let info, info.pointee.si_code > 0 {
                let address = Int(bitPattern: info.pointee._sifields._sigfault.si_addr)
                if let slot = slot(holding: address) {
                    let page = pageSize
                    let pageStart = address & ~(page - 1)
                    let zeros = mmap(
                        UnsafeMutableRawPointer(bitPattern: pageStart), page, PROT_READ,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0)
                    if zeros != UnsafeMutableRawPointer(bitPattern: -1) {
                        field(slot, truncated).pointee.store(1, ordering: .sequentiallyConsistent)
                        table[slotCount * fieldsPerSlot + 1].wrappingAdd(1, ordering: .sequentiallyConsistent)
                        return  // the access is retried and reads zeros
                    }
                }
            }
            // Not ours (or not recoverable): the previous action takes over.
            _ = sigaction(SIGBUS, previous, nil)
            if info == nil || info!.pointee.si_code <= 0 { raise(SIGBUS) }  // sent, not a fault: send again
            // A fault happens again when the handler returns, now under the previous action.
        }
    }
#endif
