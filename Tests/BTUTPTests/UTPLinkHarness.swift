import NIOCore

@testable import BTUTP

/// A deterministic random generator (SplitMix64), so that every simulated run can be replayed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

/// One direction of a simulated path: a bottleneck of `bytesPerSecond` with a drop-tail queue of
/// `queueBytes`, then a propagation `delay` plus up to `jitter` (which reorders packets), and random loss.
struct SimulatedPath {
    var delay: TimeAmount = .milliseconds(10)
    var jitter: TimeAmount = .zero
    var loss = 0.0
    var bytesPerSecond: Int? = nil
    var queueBytes = 1 << 20
    /// When the bottleneck finishes sending what is queued.
    var busyUntil = NIODeadline.uptimeNanoseconds(0)
    /// Highest queuing delay seen once the flow ran a while (for LEDBAT checks).
    var queueDelays: [TimeAmount] = []

    /// When a datagram of `size` bytes sent at `now` arrives, or nil if it is lost.
    mutating func schedule(size: Int, now: NIODeadline, using rng: inout SeededGenerator) -> NIODeadline? {
        if loss > 0, Double.random(in: 0..<1, using: &rng) < loss { return nil }
        var departure = now
        if let rate = bytesPerSecond {
            let start = max(now, busyUntil)
            let queued = start - now
            queueDelays.append(queued)
            if Int64(queued.nanoseconds) * Int64(rate) / 1_000_000_000 > Int64(queueBytes) { return nil }
            departure = start + .nanoseconds(Int64(size) * 1_000_000_000 / Int64(rate))
            busyUntil = departure
        }
        var arrival = departure + delay
        if jitter > .zero { arrival = arrival + .nanoseconds(Int64.random(in: 0...jitter.nanoseconds, using: &rng)) }
        return arrival
    }
}

/// Two ``UTPConnection``s back to back over a simulated lossy, reordering, delaying link with a virtual
/// clock: A dials B. Every packet is encoded and decoded on its way (so the codec is on the path), datagrams
/// arriving at the same instant are handed over as one read burst followed by one
/// ``UTPConnection/flushAcknowledgement(now:)``, as the NIO driver does.
struct UTPPair {
    var a: UTPConnection
    var b: UTPConnection?
    var configurationB: UTPConfiguration
    var now: NIODeadline
    /// B's clock runs this far ahead of A's (it must not matter: uTP only uses differences).
    var clockOffsetB: TimeAmount = .zero
    var pathToB = SimulatedPath()
    var pathToA = SimulatedPath()
    var rng: SeededGenerator
    var initialSequenceB: UInt16
    /// Decides to drop a packet (`toB` says its direction) before the path sees it.
    var dropRule: ((UTPPacket, Bool) -> Bool)?
    private var datagrams: [(arrival: NIODeadline, order: Int, toB: Bool, bytes: ByteBuffer)] = []
    private var order = 0
    /// Bytes still to write on each side.
    var pendingFromA = ByteBuffer()
    var pendingFromB = ByteBuffer()
    /// Bytes delivered to each side.
    var receivedByA = ByteBuffer()
    var receivedByB = ByteBuffer()
    /// Every action each side produced, and every packet each side sent.
    var actionsOfA: [UTPConnectionAction] = []
    var actionsOfB: [UTPConnectionAction] = []
    var packetsFromA: [UTPPacket] = []
    var packetsFromB: [UTPPacket] = []
    /// When set, A closes once it has written everything, and B once A's stream ended and B has written
    /// everything.
    var closeWhenDone = false
    var closeRequestedA = false
    var closeRequestedB = false
    /// Whether each side saw its peer's stream end.
    var endOfStreamA = false
    var endOfStreamB = false

    init(
        configuration: UTPConfiguration = UTPConfiguration(), configurationB: UTPConfiguration? = nil,
        receiveID: UInt16 = 0x1234, initialSequenceA: UInt16 = 1, initialSequenceB: UInt16 = 0x8000, seed: UInt64 = 1
    ) {
        now = .uptimeNanoseconds(1_000_000_000_000)
        rng = SeededGenerator(seed: seed)
        self.configurationB = configurationB ?? configuration
        self.initialSequenceB = initialSequenceB
        let (connection, actions) = UTPConnection.connect(
            configuration: configuration, receiveID: receiveID, initialSequence: initialSequenceA, now: now)
        a = connection
        apply(actions, fromA: true)
    }

    var nowB: NIODeadline { now + clockOffsetB }

    var closedA: UTPCloseReason? {
        if case .closed(let reason) = a.phase { return reason }
        return nil
    }

    var closedB: UTPCloseReason? {
        if let b, case .closed(let reason) = b.phase { return reason }
        return nil
    }

    mutating func apply(_ actions: [UTPConnectionAction], fromA: Bool) {
        if fromA { actionsOfA += actions } else { actionsOfB += actions }
        for action in actions {
            switch action {
            case .send(let packet):
                if fromA { packetsFromA.append(packet) } else { packetsFromB.append(packet) }
                if let dropRule, dropRule(packet, fromA) { continue }
                let bytes = try! packet.encoded()
                let arrival =
                    fromA
                    ? pathToB.schedule(size: bytes.readableBytes + 28, now: now, using: &rng)
                    : pathToA.schedule(size: bytes.readableBytes + 28, now: now, using: &rng)
                if let arrival {
                    order += 1
                    // Kept sorted by arrival (then sending order), so the due ones are a prefix.
                    var low = datagrams.count
                    while low > 0, datagrams[low - 1].arrival > arrival { low -= 1 }
                    datagrams.insert((arrival, order, fromA, bytes), at: low)
                }
            case .deliver(var bytes):
                if fromA { receivedByA.writeBuffer(&bytes) } else { receivedByB.writeBuffer(&bytes) }
            case .endOfStream:
                if fromA { endOfStreamA = true } else { endOfStreamB = true }
            case .connected, .closed:
                break
            }
        }
    }

    /// Writes what each side still has to write, as far as its send buffer takes it, and closes sides whose
    /// work is done.
    mutating func pumpWrites() {
        if pendingFromA.readableBytes > 0, a.writableBytes > 0 {
            apply(a.write(&pendingFromA, now: now), fromA: true)
        }
        // (`b!.method` mutates in place; copying the machine out and back would copy its buffers each time.)
        if b != nil, pendingFromB.readableBytes > 0, b!.writableBytes > 0 {
            apply(b!.write(&pendingFromB, now: nowB), fromA: false)
        }
        guard closeWhenDone else { return }
        if !closeRequestedA, pendingFromA.readableBytes == 0, a.phase == .connected {
            closeRequestedA = true
            apply(a.close(now: now), fromA: true)
        }
        if b != nil, !closeRequestedB, pendingFromB.readableBytes == 0, endOfStreamB {
            closeRequestedB = true
            apply(b!.close(now: nowB), fromA: false)
        }
    }

    /// Runs the simulation until `done` holds or `limit` of virtual time passed. Returns whether `done` held.
    @discardableResult
    mutating func run(for limit: TimeAmount, until done: (UTPPair) -> Bool) -> Bool {
        let end = now + limit
        pumpWrites()
        while !done(self) {
            var next = datagrams.first?.arrival
            if let deadline = a.nextDeadline { next = min(next ?? deadline, deadline) }
            if let deadline = b?.nextDeadline { next = min(next ?? deadline - clockOffsetB, deadline - clockOffsetB) }
            guard let next, next <= end else {
                now = end
                return done(self)
            }
            now = max(now, next)
            let dueCount = datagrams.firstIndex { $0.arrival > now } ?? datagrams.count
            let due = datagrams[..<dueCount]
            datagrams.removeFirst(dueCount)
            var touchedA = false
            var touchedB = false
            for datagram in due {
                guard let packet = try? UTPPacket(decoding: datagram.bytes) else { continue }
                if datagram.toB {
                    touchedB = true
                    if b != nil {
                        apply(b!.receive(packet, now: nowB), fromA: false)
                    } else if let (connection, actions) = UTPConnection.accept(
                        packet, configuration: configurationB, initialSequence: initialSequenceB, now: nowB)
                    {
                        b = connection
                        apply(actions, fromA: false)
                    }
                } else {
                    touchedA = true
                    apply(a.receive(packet, now: now), fromA: true)
                }
            }
            if touchedA { apply(a.flushAcknowledgement(now: now), fromA: true) }
            if touchedB, b != nil { apply(b!.flushAcknowledgement(now: nowB), fromA: false) }
            if let deadline = a.nextDeadline, deadline <= now { apply(a.tick(now: now), fromA: true) }
            if let deadline = b?.nextDeadline, deadline <= nowB { apply(b!.tick(now: nowB), fromA: false) }
            pumpWrites()
        }
        return true
    }

    /// Whether both sides have closed.
    var bothClosed: Bool { closedA != nil && closedB != nil }

    static func randomBytes(_ count: Int, seed: UInt64) -> ByteBuffer {
        var rng = SeededGenerator(seed: seed)
        var words = [UInt64](repeating: 0, count: (count + 7) / 8)
        for index in words.indices { words[index] = rng.next() }
        return words.withUnsafeBytes { ByteBuffer(bytes: $0.prefix(count)) }
    }
}
