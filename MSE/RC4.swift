import NIOCore

/// The RC4 stream cipher that MSE/PE uses for its encrypted handshake fields and, when RC4 is
/// selected, for every following byte of the connection.
///
/// Written by hand because no package available to this project exposes RC4: swift-crypto deliberately
/// leaves it out (it is broken for general use), and OpenSSL's is not reachable from Swift packages here.
/// MSE still requires it for interoperability with every other client (libtorrent, Transmission,
/// rtorrent, aria2). The state is a fixed 256-entry table held inline (no heap allocation), with 32-bit
/// entries as OpenSSL uses on x86-64 (`RC4_INT`): byte-sized entries make the store/load pairs of the
/// swap alias partially and run slower. Copying an `MSEStreamCipher` copies its state, which is how a
/// trial decryption can run without advancing the live stream.
public struct MSEStreamCipher: Sendable {
    private var state: InlineArray<256, UInt32>
    private var i: UInt8 = 0
    private var j: UInt8 = 0

    /// Keys a new cipher with `key` (1 to 256 bytes) and throws away the first `discard` bytes of its
    /// keystream. MSE keys are 20 bytes and discard 1024 bytes (the spec's "RC4-drop1024").
    ///
    /// - Precondition: `key` holds 1 to 256 bytes (an MSE key is always 20); a programming error otherwise.
    public init(key: some Collection<UInt8>, discard: Int = 1024) {
        precondition(!key.isEmpty && key.count <= 256, "RC4 keys are 1 to 256 bytes")
        let keyBytes = Array(key)
        state = InlineArray(repeating: 0)
        var s = state.mutableSpan
        for index in 0..<256 { s[unchecked: index] = UInt32(index) }
        var jj: UInt32 = 0
        for index in 0..<256 {
            let x = s[unchecked: index]
            jj = (jj &+ x &+ UInt32(keyBytes[index % keyBytes.count])) & 0xff
            s[unchecked: index] = s[unchecked: Int(jj)]
            s[unchecked: Int(jj)] = x
        }
        _ = consume s
        skip(discard)
    }

    /// Advances the keystream by `count` bytes without producing output.
    public mutating func skip(_ count: Int) {
        guard count > 0 else { return }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256) { scratch in
            var left = count
            while left > 0 {
                let n = min(left, 256)
                scratch.initialize(repeating: 0)
                apply(to: UnsafeMutableRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(scratch)[0..<n]))
                left -= n
            }
        }
    }

    /// Encrypts or decrypts (the same operation) `bytes` in place, advancing the keystream by their count.
    ///
    /// Eight keystream bytes are gathered into one word and XORed with one load and one store: the
    /// byte-at-a-time loop spent a third of its time on the read-modify-write of each byte (measured with
    /// perf: about 62 % of OpenSSL's throughput before, see Benchmarks/mse/RESULTS.md for after).
    public mutating func apply(to bytes: UnsafeMutableRawBufferPointer) {
        guard let base = bytes.baseAddress else { return }
        let count = bytes.count
        var i = self.i
        var j = self.j
        var s = state.mutableSpan
        s.withUnsafeMutableBufferPointer { table in
            let t = table.baseAddress!
            var index = 0
            while index + 8 <= count {
                var word = Self.next(t, &i, &j)
                word |= Self.next(t, &i, &j) << 8
                word |= Self.next(t, &i, &j) << 16
                word |= Self.next(t, &i, &j) << 24
                word |= Self.next(t, &i, &j) << 32
                word |= Self.next(t, &i, &j) << 40
                word |= Self.next(t, &i, &j) << 48
                word |= Self.next(t, &i, &j) << 56
                let data = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: index, as: UInt64.self))
                base.storeBytes(of: (data ^ word).littleEndian, toByteOffset: index, as: UInt64.self)
                index += 8
            }
            while index < count {
                let data = base.load(fromByteOffset: index, as: UInt8.self)
                let key = UInt8(truncatingIfNeeded: Self.next(t, &i, &j))
                base.storeBytes(of: data ^ key, toByteOffset: index, as: UInt8.self)
                index += 1
            }
        }
        _ = consume s
        self.i = i
        self.j = j
    }

    /// One keystream byte (in the low 8 bits): RC4's PRGA step over the table `t` and the indices `i`, `j`.
    ///
    /// A static function with `inout` indices rather than a nested function capturing them: optimised
    /// builds inline either the same (about 750 MB/s), but debug builds (every test and `scripts/test` run
    /// `nbt` unoptimised) box the captured indices and called the closure per byte, 12 MB/s; this runs at
    /// 57 MB/s there (`swiftc -Onone`, CPU time, 16 KiB blocks), which matters once `nbt` prefers MSE.
    @inline(__always)
    private static func next(_ t: UnsafeMutablePointer<UInt32>, _ i: inout UInt8, _ j: inout UInt8) -> UInt64 {
        i &+= 1
        let x = t[Int(i)]
        j &+= UInt8(truncatingIfNeeded: x)
        let y = t[Int(j)]
        t[Int(i)] = y
        t[Int(j)] = x
        return UInt64(truncatingIfNeeded: t[Int(UInt8(truncatingIfNeeded: x &+ y))])
    }

    /// Encrypts or decrypts the readable bytes of `buffer` in place (its indices do not move).
    public mutating func apply(to buffer: inout ByteBuffer) {
        buffer.withUnsafeMutableReadableBytes { apply(to: $0) }
    }

    /// Encrypts or decrypts `bytes` in place.
    public mutating func apply(to bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { apply(to: $0) }
    }

    /// The next `count` keystream bytes (what `count` zero bytes encrypt to), advancing the stream.
    public mutating func keystream(_ count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        apply(to: &bytes)
        return bytes
    }
}
