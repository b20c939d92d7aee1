#if os(Linux)
    import BTMetainfo
    import Crypto
    import Glibc

    /// One run of pieces of a ``HashCheckMode/mapped`` check: the run's file ranges are mapped read-only
    /// (`mmap(PROT_READ, MAP_SHARED)`, page-aligned, each only up to its file's size at mapping time) into one
    /// reserved window of address space, which is registered with ``MappedWindowGuard`` before any byte of it
    /// is touched; v1 pieces are hashed straight from the mapping (v2 and hybrid pieces are copied into the
    /// merkle hasher's buffer first); then the window is unregistered and unmapped, so at most one run per
    /// worker is ever mapped.
    ///
    /// A piece whose bytes lie past the end of a file as it was when mapped (missing or short file) is not
    /// verified, as with `pread`. After hashing, every file of the run is `fstat`ed again: the pieces touching
    /// a file whose size changed during the run are not verified; when the guard absorbed a fault (a page past
    /// the end, read as zeros) and no size change explains it, no piece of the run is verified.
    ///
    /// The window gets `MADV_SEQUENTIAL`; when `mincore` (sampled every 256 KiB) shows a page of it is not
    /// cached, also `MADV_WILLNEED`, and ``uncached`` is set (the check then keeps read-ahead hints going ahead
    /// of the runs, as for `pread`). On a warm cache the page tables are filled by the kernel's fault-around
    /// (16 pages per fault); `MADV_POPULATE_READ` was tried and cost as much CPU as it saved (1 Dec 2026).
    struct MappedRun {
        /// The verdict per piece of the run, in the run's order (only up to where a cancellation stopped it).
        var results: [(piece: Int, good: Bool)] = []
        /// Whether some of the window was not in the page cache.
        var uncached = false

        /// A file range mapped into the window.
        private struct Range {
            let file: Int
            /// File offset of the first byte asked for.
            let start: Int64
            /// File offset where the mapped data ends (the file's size at mapping time, or the range's end).
            let available: Int64
            /// Address of file offset `start` in the window (nil when nothing is mapped).
            let address: UnsafeRawPointer?
        }

        /// Checks `pieces` (ascending) of `files` from a mapping. Returns nil when the run could not be mapped
        /// (no address space, every guard slot taken): the caller reads it with `pread` then.
        /// `afterMapping` (a test hook) is called with the run's pieces once they are mapped and registered,
        /// before any is hashed.
        static func check(
            _ files: FileStorage, pieces: ArraySlice<Int>, verifier: PieceVerifier, scratch: inout [UInt8],
            afterMapping: (@Sendable ([Int]) -> Void)?, cancelled: () -> Bool
        ) throws -> MappedRun? {
            let layout = files.layout
            let page = MappedWindowGuard.pageSize
            // The file ranges of the run: one per file and stretch of consecutive pieces.
            var wanted: [(file: Int, offset: Int64, length: Int)] = []
            var index = pieces.startIndex
            while index < pieces.endIndex {
                var last = index
                while last + 1 < pieces.endIndex && pieces[last + 1] == pieces[last] + 1 { last += 1 }
                let start = layout.offset(ofPiece: pieces[index])
                let end = layout.offset(ofPiece: pieces[last]) + Int64(layout.size(ofPiece: pieces[last]))
                for slice in layout.slices(streamOffset: start, length: Int(end - start))
                where !layout.files[slice.fileIndex].isPadFile && slice.length > 0 {
                    wanted.append((slice.fileIndex, slice.offsetInFile, slice.length))
                }
                index = last + 1
            }
            // Open and size every file once; keep the descriptors open until the run is done.
            var opened: [Int: (descriptor: Int32, owner: AnyObject, size: Int64)] = [:]
            for range in wanted where opened[range.file] == nil {
                guard let (descriptor, owner) = try files.descriptorForMapping(file: range.file) else { continue }
                opened[range.file] = (descriptor, owner, Self.size(of: descriptor) ?? 0)
            }
            // Page-aligned spans of the window, clamped to each file's size.
            var spans: [(file: Int, offset: Int64, length: Int, available: Int64, alignedStart: Int64, mapped: Int)] =
                []
            var total = 0
            for range in wanted {
                let size = opened[range.file]?.size ?? 0
                let available = min(range.offset + Int64(range.length), size)
                guard available > range.offset else {
                    spans.append((range.file, range.offset, range.length, available, 0, 0))
                    continue
                }
                let alignedStart = range.offset & ~Int64(page - 1)
                let alignedEnd = (available + Int64(page - 1)) & ~Int64(page - 1)
                let mapped = Int(alignedEnd - alignedStart)
                spans.append((range.file, range.offset, range.length, available, alignedStart, mapped))
                total += mapped
            }
            // One reservation for the whole run (so one guard slot covers it), the files mapped over it.
            var window: UnsafeMutableRawPointer? = nil
            var slot: Int? = nil
            defer {
                if let slot { MappedWindowGuard.unregister(slot) }
                if let window { munmap(window, total) }
            }
            let failed = UnsafeMutableRawPointer(bitPattern: -1)
            if total > 0 {
                let reserved = mmap(nil, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
                guard let reserved, reserved != failed else { return nil }
                window = reserved
            }
            var ranges: [Range] = []
            var cursor = 0
            for span in spans {
                guard span.mapped > 0, let window, let descriptor = opened[span.file]?.descriptor else {
                    ranges.append(Range(file: span.file, start: span.offset, available: span.available, address: nil))
                    continue
                }
                let target = window + cursor
                let mapped = mmap(
                    target, span.mapped, PROT_READ, MAP_SHARED | MAP_FIXED, descriptor, off_t(span.alignedStart))
                guard mapped == target else { return nil }
                ranges.append(
                    Range(
                        file: span.file, start: span.offset, available: span.available,
                        address: UnsafeRawPointer(target + Int(span.offset - span.alignedStart))))
                cursor += span.mapped
            }
            if let window {
                guard let registered = MappedWindowGuard.register(window, length: total) else { return nil }
                slot = registered
            }

            var run = MappedRun()
            if let window {
                _ = madvise(window, total, MADV_SEQUENTIAL)
                if !Self.looksCached(window, length: total, page: page) {
                    run.uncached = true
                    _ = madvise(window, total, MADV_WILLNEED)
                }
            }
            afterMapping?(Array(pieces))

            func locate(_ file: Int, _ offset: Int64, _ length: Int) -> UnsafeRawPointer? {
                for range in ranges
                where range.file == file && offset >= range.start && offset + Int64(length) <= range.available {
                    return range.address.map { $0 + Int(offset - range.start) }
                }
                return nil
            }
            for piece in pieces {
                if cancelled() { return run }
                let slices = layout.slices(piece: piece)
                var complete = true
                let good: Bool
                if verifier.isV1Only {
                    var hasher = Insecure.SHA1()
                    for slice in slices where complete {
                        if layout.files[slice.fileIndex].isPadFile {
                            var left = slice.length
                            while left > 0 {
                                let count = min(left, Self.zeros.count)
                                Self.zeros.withUnsafeBytes {
                                    hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<count]))
                                }
                                left -= count
                            }
                        } else if let bytes = locate(slice.fileIndex, slice.offsetInFile, slice.length) {
                            hasher.update(bufferPointer: UnsafeRawBufferPointer(start: bytes, count: slice.length))
                        } else {
                            complete = false
                        }
                    }
                    good = complete && verifier.matchesV1(piece: piece, digest: hasher.finalize())
                } else {
                    let size = layout.size(ofPiece: piece)
                    if scratch.count < size { scratch = [UInt8](repeating: 0, count: size) }
                    good = scratch.withUnsafeMutableBytes { buffer -> Bool in
                        for slice in slices {
                            let target = UnsafeMutableRawBufferPointer(
                                rebasing: buffer[slice.offsetInRange..<(slice.offsetInRange + slice.length)])
                            if layout.files[slice.fileIndex].isPadFile {
                                target.initializeMemory(as: UInt8.self, repeating: 0)
                            } else if let bytes = locate(slice.fileIndex, slice.offsetInFile, slice.length) {
                                target.copyMemory(from: UnsafeRawBufferPointer(start: bytes, count: slice.length))
                            } else {
                                return false
                            }
                        }
                        return verifier.verify(piece: piece, data: UnsafeRawBufferPointer(rebasing: buffer[0..<size]))
                    }
                }
                run.results.append((piece, good))
            }

            // Did a file change under the mapping? Sizes again, and the guard's flag.
            var changed = Set<Int>()
            for (file, entry) in opened where Self.size(of: entry.descriptor) != entry.size { changed.insert(file) }
            let faulted = slot.map(MappedWindowGuard.wasTruncated) ?? false
            if faulted && changed.isEmpty {
                for position in run.results.indices { run.results[position].good = false }
            } else if !changed.isEmpty {
                for position in run.results.indices
                where layout.slices(piece: run.results[position].piece).contains(where: {
                    changed.contains($0.fileIndex)
                }) {
                    run.results[position].good = false
                }
            }
            return run
        }

        /// Zeros to hash for pad-file bytes.
        private static let zeros = [UInt8](repeating: 0, count: 64 * 1024)

        /// The size of the file open as `descriptor`, or nil when `fstat` fails.
        private static func size(of descriptor: Int32) -> Int64? {
            var info = stat()
            guard fstat(descriptor, &info) == 0 else { return nil }
            return Int64(info.st_size)
        }

        /// Whether the window looks cached: `mincore` on one page per 256 KiB (and the last page), so the
        /// check costs a few lookups per run instead of one per page (a whole-window `mincore` was 2 % of
        /// the warm check's CPU). False when it cannot tell.
        private static func looksCached(_ window: UnsafeMutableRawPointer, length: Int, page: Int) -> Bool {
            var resident: UInt8 = 0
            var offset = 0
            while true {
                guard mincore(window + offset, page, &resident) == 0, resident & 1 == 1 else { return false }
                if offset == length - page { return true }
                offset = min(offset + Self.sampleStride, length - page)
            }
        }

        /// Distance between the pages `looksCached` samples.
        private static let sampleStride = 256 * 1024
    }
#endif
