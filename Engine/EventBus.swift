import Foundation

/// Delivers ``ClientEvent``s to callbacks (the seed's `on_event`) and to async sequences.
///
/// - ``on(_:_:)`` registers a handler for one ``ClientEvent/Kind``; ``onEvery(_:)`` for all. Handlers run
///   synchronously inside ``emit(_:)``, on the emitter's thread, in registration order, so they must be
///   quick; the handler list is copied before calling, so a handler may subscribe or unsubscribe.
/// - ``events(bufferingNewest:)`` returns an `AsyncStream` per consumer. Buffer policy: each stream holds
///   at most `limit` undelivered events (1024 by default); when a consumer falls behind, the *oldest*
///   undelivered event is dropped to make room, so memory stays bounded and the consumer sees the most
///   recent state. Drops are counted in ``droppedEventCount``. A stream ends when its consumer stops
///   iterating (it is then unsubscribed) or when ``finish()`` is called.
public final class EventBus: @unchecked Sendable {
    /// A registration, for ``remove(_:)``.
    public struct Subscription: Hashable, Sendable {
        let id: UInt64
    }

    /// Events kept per stream when the consumer is slower than the emitter, unless told otherwise.
    public static let defaultBufferLimit = 1024

    private typealias Handler = @Sendable (ClientEvent) -> Void

    // Guarded by `lock`: emit is called from event loops, subscription from user code.
    private let lock = NSLock()
    private var nextID: UInt64 = 0
    private var handlers: [(id: UInt64, kind: ClientEvent.Kind?, handler: Handler)] = []
    private var streams: [UInt64: AsyncStream<ClientEvent>.Continuation] = [:]
    private var dropped = 0
    private var finished = false

    /// An event bus with no subscribers.
    public init() {}

    /// Calls `handler` for every event of `kind`.
    @discardableResult
    public func on(_ kind: ClientEvent.Kind, _ handler: @escaping @Sendable (ClientEvent) -> Void) -> Subscription {
        register(kind, handler)
    }

    /// Calls `handler` for every event.
    @discardableResult
    public func onEvery(_ handler: @escaping @Sendable (ClientEvent) -> Void) -> Subscription {
        register(nil, handler)
    }

    /// Stops a handler registered with ``on(_:_:)`` or ``onEvery(_:)``.
    public func remove(_ subscription: Subscription) {
        lock.withLock { handlers.removeAll { $0.id == subscription.id } }
    }

    /// A new stream of every event emitted from now on, keeping at most `limit` undelivered events (the
    /// oldest are dropped first). Already finished buses return a finished stream.
    public func events(bufferingNewest limit: Int = EventBus.defaultBufferLimit) -> AsyncStream<ClientEvent> {
        precondition(limit > 0, "a stream needs room for at least one event")
        let (stream, continuation) = AsyncStream.makeStream(
            of: ClientEvent.self, bufferingPolicy: .bufferingNewest(limit))
        let id: UInt64? = lock.withLock {
            guard !finished else { return nil }
            nextID += 1
            streams[nextID] = continuation
            return nextID
        }
        guard let id else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            guard let self else { return }
            _ = self.lock.withLock { self.streams.removeValue(forKey: id) }
        }
        return stream
    }

    /// Delivers `event` to the handlers of its kind, the every-event handlers and every stream.
    public func emit(_ event: ClientEvent) {
        let kind = event.kind
        var targets: [Handler] = []
        var continuations: [AsyncStream<ClientEvent>.Continuation] = []
        lock.withLock {
            for entry in handlers where entry.kind == nil || entry.kind == kind { targets.append(entry.handler) }
            continuations = Array(streams.values)
        }
        for handler in targets { handler(event) }
        var drops = 0
        for continuation in continuations {
            if case .dropped = continuation.yield(event) { drops += 1 }
        }
        if drops > 0 { lock.withLock { dropped += drops } }
    }

    /// Whether an event of `kind` would reach anyone now (a handler for it or for every event, or a stream):
    /// the engine skips building frequent events (per read, per write) that nobody receives.
    package func isObserved(_ kind: ClientEvent.Kind) -> Bool {
        lock.withLock { !streams.isEmpty || handlers.contains { $0.kind == nil || $0.kind == kind } }
    }

    /// Ends every stream (after its buffered events) and refuses new ones; handlers stay registered.
    public func finish() {
        let continuations = lock.withLock {
            finished = true
            let all = Array(streams.values)
            streams = [:]
            return all
        }
        for continuation in continuations { continuation.finish() }
    }

    /// Events dropped from streams whose consumers fell behind, since the bus was created.
    public var droppedEventCount: Int { lock.withLock { dropped } }

    /// Number of open streams.
    public var streamCount: Int { lock.withLock { streams.count } }

    private func register(_ kind: ClientEvent.Kind?, _ handler: @escaping Handler) -> Subscription {
        lock.withLock {
            nextID += 1
            handlers.append((nextID, kind, handler))
            return Subscription(id: nextID)
        }
    }
}
