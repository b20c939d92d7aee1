import BTUTP
import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// Moves `megabytes` MiB from one ``UTPSocketHandler`` to another over real UDP sockets on 127.0.0.1 and
/// reports wall time, throughput and CPU per GiB (both drivers in this process, one event loop each).
/// Run it inside a loopback-only network namespace (`./run` does: `unshare -n`).
final class Sink: UTPSocketDelegate, @unchecked Sendable {
    var received = 0
    let expected: Int
    let done: EventLoopPromise<Void>
    var toSend: ByteBuffer
    let chunk: Int

    init(expected: Int, toSend: ByteBuffer, done: EventLoopPromise<Void>) {
        self.expected = expected
        self.toSend = toSend
        self.chunk = 1 << 20
        self.done = done
    }

    func utpConnected(_ connection: UTPConnectionID, incoming: Bool, socket: UTPSocketHandler) {
        writeMore(connection, socket: socket)
    }

    func writeMore(_ connection: UTPConnectionID, socket: UTPSocketHandler) {
        while toSend.readableBytes > 0 {
            let slice = toSend.getSlice(at: toSend.readerIndex, length: min(chunk, toSend.readableBytes))!
            guard socket.write(slice, to: connection) else { return }
            toSend.moveReaderIndex(forwardBy: slice.readableBytes)
        }
    }

    func utpWritable(_ connection: UTPConnectionID, socket: UTPSocketHandler) { writeMore(connection, socket: socket) }

    func utpReceived(_ bytes: ByteBuffer, on connection: UTPConnectionID, socket: UTPSocketHandler) {
        received += bytes.readableBytes
        if received >= expected { done.succeed() }
    }

    func utpEndOfStream(on connection: UTPConnectionID, socket: UTPSocketHandler) {}
    func utpClosed(_ connection: UTPConnectionID, reason: UTPCloseReason, socket: UTPSocketHandler) {}
}

func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
        + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

let megabytes = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 256 : 256
let datagramSize = CommandLine.arguments.count > 2 ? Int(CommandLine.arguments[2]) ?? 1400 : 1400
let size = megabytes << 20
let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
let sendLoop = group.next()
let receiveLoop = group.next()
var configuration = UTPConfiguration()
configuration.maximumDatagramSize = datagramSize
configuration.minimumDatagramSize = datagramSize
configuration.sendBufferSize = 4 << 20
configuration.receiveBufferSize = 4 << 20
let payload = ByteBuffer(repeating: 0x5a, count: size)
let sender = Sink(expected: .max, toSend: payload, done: sendLoop.makePromise())
let receiver = Sink(expected: size, toSend: ByteBuffer(), done: receiveLoop.makePromise())
let sendHandler = try sendLoop.submit {
    NIOLoopBound(UTPSocketHandler(configuration: configuration, delegate: sender), eventLoop: sendLoop)
}.wait()
let receiveHandler = try receiveLoop.submit {
    NIOLoopBound(UTPSocketHandler(configuration: configuration, delegate: receiver), eventLoop: receiveLoop)
}.wait()
func bootstrap(_ loop: EventLoop, _ handler: NIOLoopBound<UTPSocketHandler>) -> DatagramBootstrap {
    DatagramBootstrap(group: loop)
        .channelOption(.socketOption(.so_rcvbuf), value: 8 << 20)
        .channelOption(.socketOption(.so_sndbuf), value: 8 << 20)
        .channelOption(.maxMessagesPerRead, value: 64)
        .channelOption(.datagramVectorReadMessageCount, value: 64)
        .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 64 * 65_536))
        .channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler.value) }
        }
}
let sendChannel = try bootstrap(sendLoop, sendHandler).bind(host: "127.0.0.1", port: 0).wait()
let receiveChannel = try bootstrap(receiveLoop, receiveHandler).bind(host: "127.0.0.1", port: 0).wait()
let target = receiveChannel.localAddress!
let cpuStart = cpuSeconds()
let start = NIODeadline.now()
_ = try sendLoop.submit { sendHandler.value.connect(to: target) }.wait()
try receiver.done.futureResult.wait()
let seconds = Double((NIODeadline.now() - start).nanoseconds) / 1e9
let cpu = cpuSeconds() - cpuStart
print(
    "uTP drivers over loopback, \(datagramSize)-byte datagrams: \(megabytes) MiB in \(Double(Int(seconds * 100)) / 100) s"
        + " = \(Int((Double(megabytes) / seconds).rounded())) MiB/s, CPU \(Double(Int(cpu / Double(megabytes) * 1024 * 100)) / 100) s per GiB"
)
try sendChannel.close().wait()
try receiveChannel.close().wait()
try group.syncShutdownGracefully()
