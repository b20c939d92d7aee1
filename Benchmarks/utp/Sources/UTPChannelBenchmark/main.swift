import BTUTP
import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// Moves `megabytes` MiB over one uTP connection as the engine sees it: two ``UTPStreamMultiplexer``s on real UDP
/// sockets on 127.0.0.1, the sender writing 1 MiB `ByteBuffer`s to its ``UTPStreamChannel`` whenever it is
/// writable, the receiver counting what its child channel reads. Reports wall time, throughput and CPU per GiB
/// (both sides in this process, one event loop each). Arguments: MiB, datagram size, `gso` to send runs of full
/// datagrams as one UDP segmentation offload write. Run it inside a loopback-only network namespace (`./run`).
final class Sender: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    var remaining: Int
    let chunk: ByteBuffer

    init(total: Int) {
        remaining = total
        chunk = ByteBuffer(repeating: 0x5a, count: 1 << 20)
    }

    func channelActive(context: ChannelHandlerContext) {
        writeMore(context)
        context.fireChannelActive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { writeMore(context) }
    }

    func writeMore(_ context: ChannelHandlerContext) {
        while remaining > 0, context.channel.isWritable {
            let slice = chunk.getSlice(at: 0, length: min(chunk.readableBytes, remaining))!
            remaining -= slice.readableBytes
            context.write(wrapOutboundOut(slice), promise: nil)
        }
        context.flush()
    }
}

final class Receiver: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    var received = 0
    let expected: Int
    let done: EventLoopPromise<Void>

    init(expected: Int, done: EventLoopPromise<Void>) {
        self.expected = expected
        self.done = done
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        received += unwrapInboundIn(data).readableBytes
        if received >= expected { done.succeed() }
    }
}

func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
        + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

let arguments = CommandLine.arguments
let megabytes = arguments.count > 1 ? Int(arguments[1]) ?? 256 : 256
let datagramSize = arguments.count > 2 ? Int(arguments[2]) ?? 1400 : 1400
let segmentation = arguments.contains("gso")
// UDP generic receive offload on the receiving socket: 8 reads of up to 64 KiB per recvmmsg.
let receiveOffload = arguments.contains("gro")
let size = megabytes << 20
let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
let sendLoop = group.next()
let receiveLoop = group.next()
var configuration = UTPConfiguration()
configuration.maximumDatagramSize = datagramSize
configuration.minimumDatagramSize = datagramSize  // every full packet this size: no path MTU probing
configuration.sendBufferSize = 4 << 20
configuration.receiveBufferSize = 4 << 20
let receiver = Receiver(expected: size, done: receiveLoop.makePromise())

func bootstrap(_ loop: EventLoop, accepting: Bool) -> DatagramBootstrap {
    var bootstrap = DatagramBootstrap(group: loop)
        .channelOption(.socketOption(.so_rcvbuf), value: 8 << 20)
        .channelOption(.socketOption(.so_sndbuf), value: 8 << 20)
    if receiveOffload {
        bootstrap = bootstrap.channelOption(.datagramVectorReadMessageCount, value: 8)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 8 * 65_535))
            .channelOption(.datagramReceiveOffload, value: true)
            .channelOption(.datagramReceiveSegmentSize, value: true)
    } else {
        bootstrap = bootstrap.channelOption(.datagramVectorReadMessageCount, value: 64)
            .channelOption(
                .recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 64 * max(2048, datagramSize)))
    }
    if segmentation { bootstrap = bootstrap.channelOption(.datagramSegmentSize, value: CInt(datagramSize)) }
    return bootstrap.channelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
            let initializer: UTPStreamMultiplexer.Initializer? =
                accepting
                ? { child in
                    child.eventLoop.makeCompletedFuture { try child.pipeline.syncOperations.addHandler(receiver) }
                } : nil
            let multiplexer = UTPStreamMultiplexer(
                configuration: configuration, maximumPendingBytes: 1 << 20, inboundInitializer: initializer)
            multiplexer.socket.segmentationSize = segmentation ? datagramSize : nil
            try multiplexer.install(on: channel.pipeline.syncOperations)
        }
    }
}

if receiveOffload && !System.supportsUDPReceiveOffload {
    print("UDP receive offload is not supported here")
    exit(1)
}
if segmentation && !System.supportsUDPSegmentationOffload {
    print("UDP segmentation offload is not supported here")
    exit(1)
}
let sendChannel = try bootstrap(sendLoop, accepting: false).bind(host: "127.0.0.1", port: 0).wait()
let receiveChannel = try bootstrap(receiveLoop, accepting: true).bind(host: "127.0.0.1", port: 0).wait()
let target = receiveChannel.localAddress!
let cpuStart = cpuSeconds()
let start = NIODeadline.now()
let stream = try sendLoop.flatSubmit {
    try! sendChannel.pipeline.syncOperations.handler(type: UTPStreamMultiplexer.self).createStream(to: target) {
        channel in
        channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Sender(total: size)) }
    }
}.wait()
try receiver.done.futureResult.wait()
let seconds = Double((NIODeadline.now() - start).nanoseconds) / 1e9
let cpu = cpuSeconds() - cpuStart
let statistics = try sendLoop.submit {
    try sendChannel.pipeline.syncOperations.handler(type: UTPStreamMultiplexer.self).socket.statistics(
        of: stream.connectionID)
}.wait()
print(
    "uTP stream channels over loopback, \(datagramSize)-byte datagrams\(segmentation ? ", GSO" : "")\(receiveOffload ? ", GRO" : ""):"
        + " \(megabytes) MiB in \(Double(Int(seconds * 100)) / 100) s"
        + " = \(Int((Double(megabytes) / seconds).rounded())) MiB/s,"
        + " CPU \(Double(Int(cpu / Double(megabytes) * 1024 * 100)) / 100) s per GiB;"
        + " sender: \(statistics?.packetsSent ?? 0) packets, \(statistics?.retransmissions ?? 0) retransmitted,"
        + " \(statistics?.timeouts ?? 0) timeouts"
)
try stream.close().wait()
try sendChannel.close().wait()
try receiveChannel.close().wait()
try group.syncShutdownGracefully()
