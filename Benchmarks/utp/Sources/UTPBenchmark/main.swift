import BTUTP
import NIOCore

#if canImport(Glibc)
    import Glibc
#endif

/// Moves `megabytes` MiB from A to B through two ``UTPConnection``s over a lossless in-memory link. The
/// virtual clock advances 10 µs per exchange, so timers never fire; each round A writes what its buffer
/// takes, every packet is encoded to bytes and decoded again (as a socket would), B acknowledges once per
/// round (one read burst), and the ACK goes back to A.
func run(megabytes: Int, datagramSize: Int) -> (seconds: Double, cpu: Double, packets: Int, acks: Int) {
    var configuration = UTPConfiguration()
    configuration.maximumDatagramSize = datagramSize
    configuration.sendBufferSize = 4 << 20
    configuration.receiveBufferSize = 4 << 20
    var now = NIODeadline.uptimeNanoseconds(1_000_000_000)
    var (a, toB) = UTPConnection.connect(configuration: configuration, receiveID: 1, initialSequence: 1, now: now)
    var b: UTPConnection?
    let total = megabytes << 20
    let chunk = ByteBuffer(repeating: 0x5a, count: 1 << 20)
    var written = 0
    var received = 0
    var packets = 0
    var acks = 0
    var wire = ByteBuffer()
    let startWall = NIODeadline.now()
    var usage = rusage()
    getrusage(RUSAGE_SELF, &usage)
    let startCPU =
        Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec)
        / 1e6
    while received < total {
        now = now + .microseconds(10)
        if written < total, a.writableBytes > 0 {
            var data = chunk.getSlice(at: 0, length: min(chunk.readableBytes, total - written, a.writableBytes))!
            let before = data.readableBytes
            toB += a.write(&data, now: now)
            written += before - data.readableBytes
        }
        var toA: [UTPConnectionAction] = []
        for case .send(let packet) in toB {
            wire.clear()
            try! packet.encode(into: &wire)
            let decoded = try! UTPPacket(decoding: wire)
            packets += 1
            if b == nil {
                let (connection, actions) = UTPConnection.accept(
                    decoded, configuration: configuration, initialSequence: 1000, now: now)!
                b = connection
                toA += actions
            } else {
                for case .deliver(let bytes) in b!.receive(decoded, now: now) { received += bytes.readableBytes }
            }
        }
        toA += b?.flushAcknowledgement(now: now) ?? []
        toB = []
        for case .send(let packet) in toA {
            wire.clear()
            try! packet.encode(into: &wire)
            acks += 1
            toB += a.receive(try! UTPPacket(decoding: wire), now: now)
        }
    }
    let seconds = Double((NIODeadline.now() - startWall).nanoseconds) / 1e9
    getrusage(RUSAGE_SELF, &usage)
    let endCPU =
        Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec)
        / 1e6
    return (seconds, endCPU - startCPU, packets, acks)
}

let arguments = CommandLine.arguments
let megabytes = arguments.count > 1 ? Int(arguments[1]) ?? 1024 : 1024
for datagramSize in [1400, 16_384] {
    let result = run(megabytes: megabytes, datagramSize: datagramSize)
    let mib = Double(megabytes)
    print(
        "datagram \(datagramSize) B: \(megabytes) MiB in \(String(format: "%.2f", result.seconds)) s = "
            + "\(String(format: "%.0f", mib / result.seconds)) MiB/s, "
            + "\(String(format: "%.0f", Double(result.packets) / result.seconds)) data packets/s "
            + "(+\(result.acks) ACKs), CPU \(String(format: "%.2f", result.cpu / mib * 1024)) s per GiB")
}
