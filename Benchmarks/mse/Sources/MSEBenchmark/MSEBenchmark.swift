import BTMSE
import Foundation
import NIOCore

#if canImport(Glibc)
    import Glibc
#endif

/// Measures, for `seconds` each: the 768-bit modular exponentiation (public key 2^X and shared secret
/// Y^X, 160-bit X), RC4 throughput on 16 KiB blocks (the size of a piece block), and complete in-memory
/// handshakes, with the time spent in each role's machine accounted separately. Prints one line per figure.
/// Times are this thread's CPU time, as `openssl speed` divides by user time: on this shared machine other
/// builds take the cores away at random, and wall time would measure them.
@main
struct MSEBenchmark {
    static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    static func main() throws {
        let seconds = Double(CommandLine.arguments.dropFirst().first ?? "2") ?? 2
        let budget = UInt64(seconds * 1e9)
        var generator = SystemRandomNumberGenerator()
        func random(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) } }

        // Modexp with base 2 (public key).
        var count = 0
        var start = now()
        var sink: UInt8 = 0
        let keys = (0..<64).map { _ in random(20) }
        while now() - start < budget {
            let pair = MSEKeyPair(privateKey: keys[count & 63])
            sink ^= pair.publicKey[0]
            count += 1
        }
        let publicMicros = Double(now() - start) / Double(count) / 1000
        print(String(format: "modexp 2^x (public key, 160-bit x)   %8.1f us", publicMicros))

        // Modexp with a general base (shared secret).
        let pair = MSEKeyPair(privateKey: random(20))
        let peers = (0..<64).map { _ in MSEKeyPair(privateKey: random(20)).publicKey }
        count = 0
        start = now()
        while now() - start < budget {
            sink ^= pair.sharedSecret(with: peers[count & 63])![0]
            count += 1
        }
        let sharedMicros = Double(now() - start) / Double(count) / 1000
        print(String(format: "modexp y^x (shared secret, 160-bit x) %8.1f us", sharedMicros))

        // RC4 over 16 KiB blocks in place.
        var cipher = MSEStreamCipher(key: random(20))
        var block = ByteBuffer(bytes: random(16384))
        var bytes = 0
        start = now()
        while now() - start < budget {
            for _ in 0..<64 { cipher.apply(to: &block) }
            bytes += 64 * 16384
        }
        let rc4 = Double(bytes) / (Double(now() - start) / 1e9) / 1e6
        print(String(format: "RC4 (16 KiB blocks, in place)          %8.1f MB/s", rc4))

        // Complete handshakes in memory, both roles, pads of random length as in production.
        let infoHash = random(20)
        var index = SKEYIndex((0..<1000).map { _ in random(20) })
        index.insert(infoHash)
        let ia = [19] + Array("BitTorrent protocol".utf8) + [UInt8](repeating: 0, count: 8) + infoHash + random(20)
        var initiatorNanos: UInt64 = 0
        var responderNanos: UInt64 = 0
        var handshakes = 0
        let wall = now()
        while now() - wall < budget {
            var t = now()
            var initiator = try MSEInitiator(skey: infoHash, provide: [.plaintext, .rc4], initialPayload: ia)
            guard case .send(let step1) = initiator.start() else { fatalError("no step 1") }
            initiatorNanos += now() - t
            t = now()
            var responder = MSEResponder(index: index, allowed: [.plaintext, .rc4])
            let step2 = responder.receive(step1)
            responderNanos += now() - t
            var toInitiator = ByteBuffer()
            for case .send(var bytes) in step2 { toInitiator.writeBuffer(&bytes) }
            t = now()
            var toResponder = ByteBuffer()
            for case .send(var bytes) in initiator.receive(toInitiator) { toResponder.writeBuffer(&bytes) }
            initiatorNanos += now() - t
            t = now()
            toInitiator.clear()
            var done = false
            for action in responder.receive(toResponder) {
                if case .send(var bytes) = action { toInitiator.writeBuffer(&bytes) }
                if case .complete = action { done = true }
            }
            responderNanos += now() - t
            t = now()
            for action in initiator.receive(toInitiator) {
                if case .complete(let result) = action { done = done && result.method == .rc4 }
            }
            initiatorNanos += now() - t
            guard done else { fatalError("handshake did not complete") }
            handshakes += 1
        }
        let elapsed = Double(now() - wall) / 1e9
        print(
            String(
                format: "handshakes back to back                %8.0f /s (both roles on one core)",
                Double(handshakes) / elapsed))
        print(
            String(
                format: "  initiator role                       %8.0f /s (%.1f us each)",
                Double(handshakes) / (Double(initiatorNanos) / 1e9), Double(initiatorNanos) / Double(handshakes) / 1000)
        )
        print(
            String(
                format: "  responder role (1001 torrents)       %8.0f /s (%.1f us each)",
                Double(handshakes) / (Double(responderNanos) / 1e9), Double(responderNanos) / Double(handshakes) / 1000)
        )

        // The channel handler pair over 1 GiB (NBT_MSE_CHANNEL_BYTES overrides), fresh and shared blocks.
        let channelBytes =
            Int(ProcessInfo.processInfo.environment["NBT_MSE_CHANNEL_BYTES"] ?? "") ?? (1 << 30)
        for shared in [false, true] {
            let figures = try ChannelThroughput.measure(totalBytes: channelBytes, sharedBlock: shared, clock: now)
            let label = shared ? "shared blocks (CoW)" : "fresh blocks       "
            print(
                "MSEChannelHandler pair, \(label)"
                    + String(
                        format: " %8.1f MB/s (%d MiB, encrypt + decrypt)", figures.megabytesPerSecond,
                        figures.payloadBytes >> 20))
        }
        if sink == 0x5a { print("") }
    }
}
