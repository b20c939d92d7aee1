import BTMetainfo
import Foundation
import Testing

@testable import BTEngine

/// Session-wide limits changed on a running client (`Client.setGlobalLimit`, what the daemon's `session-set`
/// calls) hold the transfer back at once, in both directions, though the client started unlimited.
@Suite(.serialized) struct ClientAppliesGlobalLimitsSetWhileRunning {
    @Test func aDownloadLimitSetOnARunningClientHoldsTheTransferBack() async throws {
        let rate = 512 * 1024
        let (size, elapsed) = try await LimitedTransferFixture.timedTransfer("global-download-limit") { _, _, leecher in
            try await leecher.setGlobalLimit(.bytesPerSecond(rate), direction: .download)
        }
        #expect(
            elapsed >= LimitedTransferFixture.minimumDuration(size, under: rate),
            "\(size) bytes in \(elapsed) under a live \(rate) B/s download limit")
    }

    @Test func anUploadLimitSetOnARunningClientHoldsTheTransferBack() async throws {
        let rate = 512 * 1024
        let (size, elapsed) = try await LimitedTransferFixture.timedTransfer("global-upload-limit") { seeder, _, _ in
            try await seeder.setGlobalLimit(.bytesPerSecond(rate), direction: .upload)
        }
        #expect(
            elapsed >= LimitedTransferFixture.minimumDuration(size, under: rate),
            "\(size) bytes in \(elapsed) under a live \(rate) B/s upload limit")
    }
}
