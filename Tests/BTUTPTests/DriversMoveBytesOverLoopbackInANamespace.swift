import NBTTestSupport
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

@testable import BTUTP

/// Two ``UTPSocketHandler`` drivers on real UDP sockets (127.0.0.1 inside a private network namespace):
/// one dials the other, 4 MiB cross in each direction at once, byte for byte, and both sides close cleanly.
struct DriversMoveBytesOverLoopbackInANamespace {
    /// Collects what one driver reports; touched on its event loop only, read after the run.
    final class Recorder: UTPSocketDelegate, @unchecked Sendable {
        var received = ByteBuffer()
        var connected: [UTPConnectionID] = []
        var closed: [UTPCloseReason] = []
        var ended = false
        let expected: Int
        let finished: EventLoopPromise<Void>
        var toSend: ByteBuffer

        init(expected: Int, toSend: ByteBuffer, finished: EventLoopPromise<Void>) {
            self.expected = expected
            self.toSend = toSend
            self.finished = finished
        }

        var refusals = 0

        func utpConnected(_ connection: UTPConnectionID, incoming: Bool, socket: UTPSocketHandler) {
            connected.append(connection)
            writeMore(connection, socket: socket)
        }

        /// Writes 256 KiB chunks until the driver refuses one (its pending bytes are bounded), then waits for
        /// `utpWritable`; closes once everything is written.
        func writeMore(_ connection: UTPConnectionID, socket: UTPSocketHandler) {
            while toSend.readableBytes > 0 {
                let chunk = toSend.getSlice(at: toSend.readerIndex, length: min(256 << 10, toSend.readableBytes))!
                guard socket.write(chunk, to: connection) else {
                    refusals += 1
                    return
                }
                toSend.moveReaderIndex(forwardBy: chunk.readableBytes)
            }
            socket.close(connection)
        }

        func utpWritable(_ connection: UTPConnectionID, socket: UTPSocketHandler) {
            writeMore(connection, socket: socket)
        }

        func utpReceived(_ bytes: ByteBuffer, on connection: UTPConnectionID, socket: UTPSocketHandler) {
            var bytes = bytes
            received.writeBuffer(&bytes)
        }

        func utpEndOfStream(on connection: UTPConnectionID, socket: UTPSocketHandler) { ended = true }

        func utpClosed(_ connection: UTPConnectionID, reason: UTPCloseReason, socket: UTPSocketHandler) {
            closed.append(reason)
            finished.succeed()
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func fourMebibytesEachWayAndACleanClose() async throws {
        let sockets: [CInt]
        switch LoopbackNamespace.udpSockets(count: 2) {
        case .success(let (fds, _)): sockets = fds
        case .failure(let failure):
            Issue.record("no loopback namespace: \(failure)")
            return
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let size = 4 << 20
        let fromA = UTPPair.randomBytes(size, seed: 1)
        let fromB = UTPPair.randomBytes(size, seed: 2)
        let loopA = group.next()
        let loopB = group.next()
        let recorderA = Recorder(expected: size, toSend: fromA, finished: loopA.makePromise())
        let recorderB = Recorder(expected: size, toSend: fromB, finished: loopB.makePromise())
        let handlerA = try await loopA.submit {
            NIOLoopBound(UTPSocketHandler(maximumPendingBytes: 1 << 20, delegate: recorderA), eventLoop: loopA)
        }
        .get()
        let handlerB = try await loopB.submit {
            NIOLoopBound(UTPSocketHandler(maximumPendingBytes: 1 << 20, delegate: recorderB), eventLoop: loopB)
        }
        .get()
        let channelA = try await DatagramBootstrap(group: loopA)
            .channelOption(.socketOption(.so_rcvbuf), value: 4 << 20)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handlerA.value) }
            }.withBoundSocket(sockets[0]).get()
        let channelB = try await DatagramBootstrap(group: loopB)
            .channelOption(.socketOption(.so_rcvbuf), value: 4 << 20)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handlerB.value) }
            }.withBoundSocket(sockets[1]).get()
        let addressB = channelB.localAddress!
        let started = NIODeadline.now()
        let id = try await loopA.submit { handlerA.value.connect(to: addressB) }.get()
        #expect(id != nil)
        try await recorderA.finished.futureResult.get()
        try await recorderB.finished.futureResult.get()
        let elapsed = NIODeadline.now() - started
        let (receivedByA, closedA, refusals) = try await loopA.submit {
            (recorderA.received, recorderA.closed, recorderA.refusals)
        }.get()
        #expect(refusals > 0, "4 MiB against 1 MiB of pending bytes: some writes wait for utpWritable")
        let (receivedByB, closedB) = try await loopB.submit { (recorderB.received, recorderB.closed) }.get()
        #expect(receivedByB == fromA)
        #expect(receivedByA == fromB)
        #expect(closedA == [.finished] && closedB == [.finished])
        print("uTP drivers over loopback: 2 x \(size) bytes in \(elapsed.nanoseconds / 1_000_000) ms")
        try await channelA.close()
        try await channelB.close()
        try await group.shutdownGracefully()
    }
}
