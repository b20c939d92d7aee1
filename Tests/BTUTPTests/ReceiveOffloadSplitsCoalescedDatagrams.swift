import NBTTestSupport
import NIOCore
import NIOPosix
import Testing

@testable import BTUTP

/// UDP generic receive offload (`UDP_GRO`, Linux): the kernel hands several datagrams of one sender to the
/// receiving socket as one buffer with their segment size; the handler splits them back into datagrams, so a
/// stream sent with segmentation offload arrives whole (over real sockets in a private network namespace).
@Suite(.serialized)
struct ReceiveOffloadSplitsCoalescedDatagrams {
    typealias Loopback = StreamChannelsCarryAByteStreamOverLoopback

    @Test(.timeLimit(.minutes(1)))
    func oneMebibyteSentInSegmentedRunsArrivesWholeThroughCoalescedReads() async throws {
        guard System.supportsUDPReceiveOffload, System.supportsUDPSegmentationOffload else { return }
        guard
            let pair = try await Loopback.pair(
                acceptor: { Loopback.Recorder() }, segmentation: true, receiveOffload: true)
        else { return }
        let size = 1 << 20
        let payload = UTPPair.randomBytes(size, seed: 21)
        let channel = try await pair.dial(Loopback.Recorder())
        let wroteAll = try await Loopback.onLoop(channel) {
            var futures: [EventLoopFuture<Void>] = []
            var rest = payload
            while rest.readableBytes > 0 {
                futures.append(channel.write(rest.readSlice(length: min(16 << 10, rest.readableBytes))!))
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
        let coalesced = try await Loopback.onLoop(b) {
            try! b.pipeline.syncOperations.handler(type: UTPStreamMultiplexer.self).socket.coalescedDatagrams
        }
        #expect(coalesced > 100, "the kernel coalesced the segmented runs: \(coalesced) datagrams split")
        try await pair.shutdown()
    }
}
