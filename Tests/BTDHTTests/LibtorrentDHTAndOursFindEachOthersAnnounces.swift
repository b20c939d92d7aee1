import BTDHT
import Foundation
import NBTTestSupport
import NIOCore
import NIOPosix
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Four libtorrent sessions (Debian python3-libtorrent 2.0, DHT on with the loopback settings of
/// INTEROP.md, no public bootstrap router) form a DHT on 127.0.0.10–13 inside a loopback-only network
/// namespace. Our node on 127.0.0.2 bootstraps with libtorrent's first node as a router, finds the peer
/// libtorrent announced for one info-hash (the torrent its second session has), and announces another that
/// libtorrent's `dht_get_peers` finds.
struct LibtorrentDHTAndOursFindEachOthersAnnounces {
    /// The libtorrent side, written to a temporary file (a .py file in the test folder would be an
    /// unhandled resource for SwiftPM). Bounded: it exits by itself after `linger` seconds.
    static let script = """
        import os, sys, time
        import libtorrent as lt
        work, count, port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
        theirs, ours, our_peer, linger = sys.argv[4], sys.argv[5], sys.argv[6], float(sys.argv[7])
        log = open(os.path.join(work, 'lt.log'), 'w')
        sessions = []
        for i in range(count):
            ip = '127.0.0.%d' % (10 + i)
            sessions.append(lt.session({
                'listen_interfaces': '%s:%d' % (ip, port),
                'enable_dht': True, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
                'dht_bootstrap_nodes': '',
                'dht_restrict_routing_ips': False, 'dht_restrict_search_ips': False,
                'dht_enforce_node_id': False, 'dht_prefer_verified_node_ids': False,
                'dht_ignore_dark_internet': False, 'dht_announce_interval': 3,
                'alert_mask': lt.alert.category_t.all_categories,
            }))
        for i, s in enumerate(sessions):
            s.add_dht_node(('127.0.0.%d' % (10 + (1 if i == 0 else 0)), port))
            if i > 1:
                s.add_dht_node(('127.0.0.%d' % (10 + i - 1), port))
        theirs_hash = lt.sha1_hash(bytes.fromhex(theirs))
        ours_hash = lt.sha1_hash(bytes.fromhex(ours))
        # Debian's 2.0.8 bindings cannot call dht_announce (its flags type is not exported): the second
        # session announces a torrent it has (a magnet without metadata), on its listen port, as any client.
        params = lt.add_torrent_params()
        params.info_hashes = lt.info_hash_t(theirs_hash)
        params.save_path = os.path.join(work, 'data')
        sessions[1].add_torrent(params)
        start = time.time()
        next_round = 0
        ready = False
        while time.time() < start + linger:
            if not ready and time.time() > start + 1:
                ready = True
                with open(os.path.join(work, 'ready'), 'w') as f:
                    f.write('ready')
            if ready and time.time() >= next_round:
                next_round = time.time() + 1.5
                sessions[2].dht_get_peers(ours_hash)
            for s in sessions:
                for a in s.pop_alerts():
                    if isinstance(a, lt.dht_get_peers_reply_alert):
                        peers = ['%s:%d' % p for p in a.peers()]
                        log.write('get_peers %s -> %s\\n' % (a.info_hash, peers))
                        if our_peer in peers:
                            with open(os.path.join(work, 'found.tmp'), 'w') as f:
                                f.write(' '.join(peers))
                            os.rename(os.path.join(work, 'found.tmp'), os.path.join(work, 'found'))
                    elif a.category() & (lt.alert.category_t.dht_notification | lt.alert.category_t.error_notification):
                        log.write('%s\\n' % a.message())
            log.flush()
            time.sleep(0.05)
        """

    static var libtorrentInstalled: Bool {
        FileManager.default.fileExists(
            atPath: "/usr/lib/python3/dist-packages/libtorrent.cpython-311-x86_64-linux-gnu.so")
    }

    static func hex(_ id: NodeID) -> String {
        id.bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    @Test(.enabled(if: libtorrentInstalled), .timeLimit(.minutes(1)))
    func eachSideFindsThePeerTheOtherAnnounced() async throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent(
            "nbt-dht-lt-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let scriptPath = work.appendingPathComponent("dht.py").path
        try Self.script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        var generator = SystemRandomNumberGenerator()
        let theirs = NodeID.random(using: &generator)
        let ours = NodeID.random(using: &generator)
        let port: UInt16 = 6881
        let command = [
            "/usr/bin/python3", scriptPath, work.path, "4", "\(port)", Self.hex(theirs), Self.hex(ours),
            "127.0.0.2:7002", "45",
        ]
        let sockets: [CInt]
        let pid: pid_t
        switch LoopbackNamespace.udpSockets(addresses: [0x7f00_0002], port: port, starting: command) {
        case .success(let (fds, process)):
            sockets = fds
            pid = process!
        case .failure(let failure):
            Issue.record("no loopback namespace: \(failure)")
            return
        }
        defer {
            kill(pid, SIGKILL)
            var status: CInt = 0
            waitpid(pid, &status, 0)
        }
        let log = work.appendingPathComponent("lt.log").path
        var ready = false
        for _ in 0..<150 where !ready {
            ready = FileManager.default.fileExists(atPath: work.appendingPathComponent("ready").path)
            if !ready { try await Task.sleep(for: .milliseconds(100)) }
        }
        try #require(ready, "libtorrent did not start")

        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let channel = try await DatagramBootstrap(group: group).withBoundSocket(sockets[0]).get()
        var configuration = DHTConfiguration(randomSeed: 99)
        configuration.lookupTimeout = .seconds(10)
        let dht = try await DHTService.start(on: channel, configuration: configuration)
        let router = DHTEndpoint("127.0.0.10", port: port)!
        let started = NIODeadline.now()
        let joined = try await dht.bootstrap(routers: [router])
        #expect(joined.responses >= 2)

        // We find the peer libtorrent's second session announced (127.0.0.11, its listen port).
        let expected = DHTEndpoint("127.0.0.11", port: port)!
        var foundTheirs: DHTLookupResult?
        var announces = 0
        let foundFile = work.appendingPathComponent("found").path
        var foundOurs = false
        while NIODeadline.now() - started < .seconds(40) && (foundTheirs == nil || !foundOurs) {
            if foundTheirs == nil {
                let result = try await dht.getPeers(theirs)
                if result.peers.contains(expected) { foundTheirs = result }
            }
            if !foundOurs {
                let announced = try await dht.announce(ours, port: 7002)
                announces += 1
                #expect(announced.announcedTo >= 1)
                foundOurs = FileManager.default.fileExists(atPath: foundFile)
            }
            if foundTheirs == nil || !foundOurs { try await Task.sleep(for: .milliseconds(500)) }
        }
        let elapsed = NIODeadline.now() - started
        let statistics = try await dht.statistics()
        let table = try await dht.state()
        let libtorrentLog = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(foundTheirs != nil, "libtorrent's announce not found; libtorrent log:\n\(libtorrentLog)")
        #expect(foundOurs, "libtorrent did not find our announce; libtorrent log:\n\(libtorrentLog)")
        // libtorrent's nodes answered us and entered our table; the router did not.
        #expect(table.nodes.count >= 2)
        #expect(!table.nodes.contains { $0.endpoint == router })
        print(
            "libtorrent DHT interop: both announces found in \(elapsed.nanoseconds / 1_000_000) ms, "
                + "\(announces) announces, table \(table.nodes.count) nodes, \(statistics.messages.queriesSent) "
                + "queries sent, \(statistics.messages.queriesServed) served, the lookup that found libtorrent's peer took "
                + "\(foundTheirs.map { "\($0.duration.nanoseconds / 1_000) µs" } ?? "-")")
        try await dht.close()
        try await group.shutdownGracefully()
    }
}
