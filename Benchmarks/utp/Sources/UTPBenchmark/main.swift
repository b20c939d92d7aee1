import BTUTP
import NIOCore

#if canImport(Glibc)
    import Glibc
#endif

/// Moves `megabytes` MiB from A to B through two ``UTPConnection``s over a lossless in-memory link. The
/// virtual clock advances 10 µs per round, so timers never fire; each round A writes what its buffer takes,
/// B reads one burst of up to `burst` datagrams (every packet encoded to bytes and decoded again, as a socket
/// would) and acknowledges it with one ST_STATE, which A reads.
func run(megabytes: Int, datagramSize: Int, burst: Int) -> (seconds: Double, cpu: Double, packets: Int, acks: Int) {
    var configuration = UTPConfiguration()
    configuration.maximumDatagramSize = datagramSize
    configuration.minimumDatagramSize = datagramSize
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
    getrusage(RUSAGE_SELF.rawValue, &usage)
    let startCPU =
        Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec)
        / 1e6
    var queue: [UTPPacket] = toB.compactMap { if case .send(let packet) = $0 { packet } else { nil } }
    var head = 0
    while received < total {
        now = now + .microseconds(10)
        if written < total, a.writableBytes > 0 {
            var data = chunk.getSlice(at: 0, length: min(chunk.readableBytes, total - written, a.writableBytes))!
            let before = data.readableBytes
            for case .send(let packet) in a.write(&data, now: now) { queue.append(packet) }
            written += before - data.readableBytes
        }
        // One read burst at B: up to `burst` datagrams, then one ACK.
        var toA: [UTPConnectionAction] = []
        let end = min(queue.count, head + burst)
        for index in head..<end {
            wire.clear()
            try! queue[index].encode(into: &wire)
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
        head = end
        if head > 4096 {
            queue.removeFirst(head)
            head = 0
        }
        toA += b?.flushAcknowledgement(now: now) ?? []
        for case .send(let packet) in toA {
            wire.clear()
            try! packet.encode(into: &wire)
            acks += 1
            for case .send(let next) in a.receive(try! UTPPacket(decoding: wire), now: now) { queue.append(next) }
        }
    }
    let seconds = Double((NIODeadline.now() - startWall).nanoseconds) / 1e9
    getrusage(RUSAGE_SELF.rawValue, &usage)
    let endCPU =
        Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec)
        / 1e6
    return (seconds, endCPU - startCPU, packets, acks)
}

let arguments = CommandLine.arguments
let megabytes = arguments.count > 1 ? Int(arguments[1]) ?? 1024 : 1024
// 16 datagrams per burst is NIO's default `maxMessagesPerRead` for datagram channels.
for (datagramSize, burst) in [(1400, 16), (1400, 64), (16_384, 16)] {
    let result = run(megabytes: megabytes, datagramSize: datagramSize, burst: burst)
    let mib = Double(megabytes)
    let rate = String(Int((mib / result.seconds).rounded()))
    let packetsPerSecond = String(Int((Double(result.packets) / result.seconds).rounded()))
    let cpuPerGiB = String(Double(Int(result.cpu / mib * 1024 * 100)) / 100)
    let seconds = String(Double(Int(result.seconds * 100)) / 100)
    print(
        "datagram \(datagramSize) B, bursts of \(burst): \(megabytes) MiB in \(seconds) s = \(rate) MiB/s, \(packetsPerSecond) packets/s "
            + "(data and SYN; +\(result.acks) ACKs), CPU \(cpuPerGiB) s per GiB")
}
