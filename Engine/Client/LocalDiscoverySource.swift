import BTMetainfo
import BTTracker
import BTWire
import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// Peers from local service discovery (BEP 14): BTTracker's pure ``LocalDiscoveryAnnouncer`` on a UDP socket
/// joined to the IPv4 group 239.192.152.143:6771 (bound with address reuse, as every client on the host shares
/// the port). The socket is made at the first tick after the client starts (and not again if that fails); each
/// tick the announcer learns which torrents run (downloading or seeding, never a private one) and sends what is
/// due. A received announce for one of our torrents is dialled at once, tagged ``PeerSource/lsd``. Multicast
/// datagrams keep the kernel's default TTL of 1 (libtorrent uses 32): discovery stays on the local link.
final class LocalDiscoverySource: EngineComponent, @unchecked Sendable {
    unowned let core: ClientCore
    /// The joined socket, once made.
    private(set) var channel: (any Channel)?
    /// The socket is being made, or could not be: not tried again.
    private var started = false
    /// The schedule and the limits (made with the socket).
    private(set) var announcer: LocalDiscoveryAnnouncer?
    /// Peers received for our torrents so far (for status and tests).
    private(set) var peersFound = 0
    /// The group's address and port.
    static let group = try! SocketAddress(
        ipAddress: LocalDiscoveryMessage.Group.ipv4.address, port: LocalDiscoveryMessage.port)

    init(core: ClientCore) { self.core = core }

    /// The one-second tick: makes the socket the first time, then follows the running torrents and sends what
    /// is due.
    func tick(now: NIODeadline) {
        guard let settings = configuration.localDiscovery, !core.isShutDown else { return }
        guard let channel, var announcer else {
            start(settings)
            return
        }
        announcer.listenPort = UInt16(clamping: core.connections.listenPort)
        // Running torrents (a magnet fetching its metadata too) are announced; one being checked is not yet,
        // but the peers announced for it are taken (they wait as candidates until the check ends).
        var kept: Set<[UInt8]> = []
        for session in core.torrents.values {
            let hash = session.handle.wireInfoHash
            switch session.state {
            case .downloading, .seeding, .fetchingMetadata:
                announcer.add(infoHash: hash, isPrivate: session.torrent.isPrivate, now: now)
            case .checking:
                announcer.accept(infoHash: hash, isPrivate: session.torrent.isPrivate)
            default:
                continue
            }
            kept.insert(hash)
        }
        for hash in announcer.infoHashes.union(announcer.acceptedInfoHashes) where !kept.contains(hash) {
            announcer.remove(infoHash: hash)
        }
        let messages = announcer.due(now: now)
        self.announcer = announcer
        for message in messages {
            let buffer = channel.allocator.buffer(bytes: message.encoded())
            channel.writeAndFlush(AddressedEnvelope(remoteAddress: Self.group, data: buffer), promise: nil)
        }
    }

    /// A datagram on the group: dials the peers it names for our torrents.
    func received(_ envelope: AddressedEnvelope<ByteBuffer>) {
        guard var announcer, let text = envelope.remoteAddress.ipAddress, let address = IPAddress(text) else { return }
        let result = announcer.received(envelope.data.readableBytesView, from: address, now: loop.now)
        self.announcer = announcer
        switch result {
        case .success(let peers):
            for peer in peers {
                guard let session = core.torrents[peer.infoHash] else { continue }
                peersFound += 1
                configuration.logger.debug(
                    "local discovery peer",
                    metadata: ["peer": "\(peer.address):\(peer.port)", "torrent": "\(session.handle.name)"])
                core.connections.addPeer(
                    host: peer.address.description, port: Int(peer.port), source: .lsd, to: session)
            }
        case .failure(let reason):
            configuration.logger.debug(
                "local discovery datagram ignored", metadata: ["from": "\(text)", "why": "\(reason)"])
        }
    }

    /// Closes the socket (at shutdown).
    func close() {
        channel?.close(promise: nil)
        channel = nil
    }

    private func start(_ settings: LocalDiscoverySettings) {
        guard !started else { return }
        started = true
        let loop = self.loop
        let host = core.connections.listenHost
        let interface = settings.interfaceAddress ?? (host == "0.0.0.0" || host == "::" ? nil : host)
        let logger = configuration.logger
        let handler = LocalDiscoveryHandler(source: self)
        Task {
            do {
                let channel: any Channel
                if let make = settings.makeChannel {
                    channel = try await make(loop)
                } else {
                    channel = try await DatagramBootstrap(group: loop)
                        .channelOption(.socketOption(.so_reuseaddr), value: 1)
                        .bind(host: "0.0.0.0", port: LocalDiscoveryMessage.port).get()
                }
                try await channel.pipeline.addHandler(handler).get()
                guard let multicast = channel as? any MulticastChannel else {
                    throw ChannelError.operationUnsupported
                }
                // The bind address's device, when it says it carries multicast. Else (a loopback without
                // MULTICAST, as Linux brings `lo` up, or a socket made in another network namespace than the
                // one whose devices this process lists) the kernel picks the device by its route to the group:
                // NIO refuses to join on a device without the flag, and discovery would never start.
                var device: NIONetworkDevice?
                if let interface {
                    device = try? System.enumerateDevices().first {
                        $0.address?.ipAddress == interface && $0.multicastSupported
                    }
                }
                try await multicast.joinGroup(Self.group, device: device).get()
                if let interface, let provider = channel as? any SocketOptionProvider {
                    var address = in_addr()
                    if inet_pton(AF_INET, interface, &address) == 1 {
                        try await provider.setIPMulticastIF(address).get()
                    }
                }
                try await loop.submit { [self] in
                    guard !core.isShutDown else {
                        channel.close(promise: nil)
                        return
                    }
                    self.channel = channel
                    let cookie = String(UInt32.random(in: 1..<0x8000_0000), radix: 16)
                    announcer = LocalDiscoveryAnnouncer(
                        cookie: cookie, listenPort: UInt16(clamping: core.connections.listenPort),
                        configuration: settings.announcer)
                    logger.info("local discovery on 239.192.152.143:6771, cookie \(cookie)")
                }.get()
            } catch {
                logger.warning("no local discovery: \(error)")
            }
        }
    }
}

/// Hands the group's datagrams to the ``LocalDiscoverySource`` (on the engine's loop, where the socket lives).
final class LocalDiscoveryHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    private unowned let source: LocalDiscoverySource

    init(source: LocalDiscoverySource) { self.source = source }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        source.received(unwrapInboundIn(data))
    }
}
