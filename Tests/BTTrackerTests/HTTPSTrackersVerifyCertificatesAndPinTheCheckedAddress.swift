import BTMetainfo
import BTTracker
import NIOCore
import Testing

private let request = AnnounceRequest(
    infoHash: Array(repeating: 0xab, count: 20), peerID: Array(repeating: 0x42, count: 20), port: 6881,
    left: 100, event: .started, numWant: 10, key: 0x1234)

/// A configuration trusting `certificate` (when given) with a deadline generous for a loaded machine.
private func configuration(
    trusting certificate: TestCertificate?, resolving names: [String: [UInt8]] = [:]
) -> TrackerClient.Configuration {
    var configuration = TrackerClient.Configuration(
        addressPolicy: TrackerAddressPolicy(localTrackersAnnounceOnly: false), httpTimeout: .seconds(20),
        additionalTrustedRootCertificateFiles: certificate.map { [$0.certificate] } ?? [])
    if !names.isEmpty {
        configuration.resolver = { (host: String) async throws(TrackerError) -> [IPAddress] in
            guard let address = names[host].flatMap({ IPAddress(bytes: $0) }) else {
                throw TrackerError(.connectionFailed, "unknown test name \(host)")
            }
            return [address]
        }
    }
    return configuration
}

/// Announces to `url` under `configuration`, capped at 15 s: `.some(error)` for a failure, `.some(nil)` for
/// a success, nil when there was no answer in time.
private func announceError(_ url: String, _ configuration: TrackerClient.Configuration) async -> TrackerError?? {
    await bounded(seconds: 15) {
        let client = TrackerClient(configuration: configuration)
        let failure: TrackerError?
        do throws(TrackerError) {
            _ = try await client.announce(request, to: url)
            failure = nil
        } catch {
            failure = error
        }
        await client.shutdown()
        return failure
    }
}

/// The error code of ``announceError(_:_:)``.
private func announceCode(_ url: String, _ configuration: TrackerClient.Configuration) async -> TrackerError.Code?? {
    await announceError(url, configuration).map { $0?.code }
}

@Suite(.serialized) struct HTTPSTrackersVerifyCertificatesAndPinTheCheckedAddress {
    @Test func announceAndScrapeOverTLSWithATrustedSelfSignedCertificate() async throws {
        let certificate = try await TestCertificate.make(names: ["IP:127.0.0.1", "DNS:localhost"])
        defer { certificate.remove() }
        let fake = try FakeTracker.start(tls: certificate)
        defer { fake.process.stop() }
        let trusted = configuration(trusting: certificate)
        for url in [fake.https("/ok/announce"), fake.https("/ok/announce", host: "localhost")] {
            let response = try await TrackerClient.withClient(configuration: trusted) { client in
                try await client.announce(request, to: url)
            }
            #expect(response.complete == 5 && response.incomplete == 7 && response.peers.count == 3, "\(url)")
            // The fake echoes the query it received: the parameters arrived intact through TLS.
            #expect(response.warning?.contains("&compact=1&event=started&numwant=10&key=1234") == true, "\(url)")
        }
        let hash = Array(repeating: UInt8(3), count: 20)
        let scrape = try await TrackerClient.withClient(configuration: trusted) { client in
            try await client.scrape([hash], at: fake.https("/ok/announce"))
        }
        #expect(scrape == [ScrapeResult(infoHash: hash, complete: 3, incomplete: 4, downloaded: 9)])
    }

    @Test func untrustedSelfSignedCertificateIsAConnectionFailure() async throws {
        let certificate = try await TestCertificate.make(names: ["IP:127.0.0.1", "DNS:localhost"])
        defer { certificate.remove() }
        let fake = try FakeTracker.start(tls: certificate)
        defer { fake.process.stop() }
        let untrusted = await announceError(fake.https("/ok/announce"), configuration(trusting: nil))
        #expect(untrusted??.code == .connectionFailed)
        #expect(untrusted??.reason.hasPrefix("TLS:") == true, "\(String(describing: untrusted))")
        // A trust file that cannot be read is a typed failure too, not a crash or a silent fallback.
        var missing = configuration(trusting: nil)
        missing.additionalTrustedRootCertificateFiles = [certificate.directory.appendingPathComponent("none.pem").path]
        let unreadable = await announceError(fake.https("/ok/announce"), missing)
        #expect(unreadable??.code == .connectionFailed)
        #expect(
            unreadable??.reason.hasPrefix("TLS:") == true && unreadable??.reason.contains("none.pem") == true,
            "\(String(describing: unreadable))")
    }

    /// `tracker.invalid` resolves only through the client's resolver: the announce can only succeed when the
    /// connection goes to the checked address rather than to a second (system) resolution of the name.
    @Test func httpsConnectsToTheCheckedAddressAndStillVerifiesTheName() async throws {
        let certificate = try await TestCertificate.make(names: ["DNS:tracker.invalid"])
        defer { certificate.remove() }
        let fake = try FakeTracker.start(tls: certificate)
        defer { fake.process.stop() }
        let loopback: [UInt8] = [127, 0, 0, 1]
        let pinned = configuration(
            trusting: certificate, resolving: ["tracker.invalid": loopback, "other.invalid": loopback])
        #expect(await announceCode(fake.https("/ok/announce", host: "tracker.invalid"), pinned) == .some(nil))
        // Same address, a name the certificate does not cover: the TLS name check still applies.
        #expect(
            await announceCode(fake.https("/ok/announce", host: "other.invalid"), pinned) == .some(.connectionFailed))
        // The address policy sees the resolver's answer: a private address is refused before any connection.
        let rebound = configuration(trusting: certificate, resolving: ["tracker.invalid": [10, 0, 0, 1]])
        #expect(
            await announceCode(fake.https("/ok/announce", host: "tracker.invalid"), rebound) == .some(.addressRefused))
    }
}
