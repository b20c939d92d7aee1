import NBTTestSupport
import NIOCore
import NIOPosix
import Testing

@testable import BTUTP

/// UDP segmentation offload per write (issue 16's shared socket): the segment size goes with each run of full
/// uTP datagrams (a `UDP_SEGMENT` control message), not on the socket, so a larger datagram another user of
/// the socket sends meanwhile (a DHT answer carrying a BEP 44 item can pass 1,400 bytes) arrives whole instead
/// of cut into 1,400-byte pieces, and the stream still arrives intact with segmentation left on.
@Suite(.serialized)
struct SegmentedRunsLeaveOtherDatagramsOnTheSocketWhole {
    typealias Loopback = StreamChannelsCarryAByteStreamOverLoopback

    @Test(.timeLimit(.minutes(1)))
    func aLargeDatagramSentBetweenSegmentedRunsArrivesInOnePiece() async throws {
        guard System.supportsUDPSegmentationOffload else { return }
        // Neither socket has the socket-wide option: A's handler segments its runs by itself.
        guard let pair = try await Loopback.pair(acceptor: { Loopback.Recorder() }, segmentation: false) else {
            return
        }
        let a = pair.a
        try await Loopback.onLoop(a) {
            try! a.pipeline.syncOperations.handler(type: UTPStreamMultiplexer.self).socket.segmentationSize = 1400
        }
        let size = 1 << 20
        let payload = UTPPair.randomBytes(size, seed: 11)
        let channel = try await pair.dial(Loopback.Recorder())
        let large = ByteBuffer(
            bytes: [UInt8(ascii: "d")] + [UInt8](repeating: 0x78, count: 1_798) + [UInt8(ascii: "e")])
        let target = pair.b.localAddress!
        let wroteAll = try await Loopback.onLoop(channel) {
            var futures: [EventLoopFuture<Void>] = []
            var rest = payload
            var sent = 0
            while rest.readableBytes > 0 {
                futures.append(channel.write(rest.readSlice(length: min(16 << 10, rest.readableBytes))!))
                sent += 1
                // Between the stream's writes, as a DHT on the same socket would.
                if sent % 8 == 0 {
                    a.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: large), promise: nil)
                }
            }
            channel.flush()
            return EventLoopFuture.andAllSucceed(futures, on: channel.eventLoop)
        }
        try await wroteAll.get()
        try await channel.close()
        let (accepted, recorderB) = try await pair.accepted.get()
        try await accepted.closeFuture.get()
        let received = try await Loopback.onLoop(accepted) { recorderB.received }
        #expect(received == payload)
        let b = pair.b
        let others = try await Loopback.onLoop(b) {
            try! b.pipeline.syncOperations.handler(type: Loopback.DatagramRecorder.self).datagrams.map(\.readableBytes)
        }
        #expect(others.count == 8, "\(others)")
        #expect(others.allSatisfy { $0 == 1_800 }, "\(others)")
        let stillSegmenting = try await Loopback.onLoop(a) {
            try! a.pipeline.syncOperations.handler(type: UTPStreamMultiplexer.self).socket.segmentationSize
        }
        #expect(stillSegmenting == 1400, "a segmented write was refused")
        try await pair.shutdown()
    }
}
