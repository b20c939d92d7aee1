import NIOCore

/// One concern of the engine (connections, downloads, uploads, announces): a part of ``ClientCore`` that
/// owns that concern's state and logic, confined to the engine's event loop like the core, which owns it
/// and through which it reaches the other parts.
protocol EngineComponent: AnyObject {
    /// The engine this part belongs to.
    var core: ClientCore { get }
}

extension EngineComponent {
    /// The engine's event loop (every method of a component runs on it).
    var loop: any EventLoop { core.loop }
    /// The client's settings.
    var configuration: ClientConfiguration { core.configuration }
    /// Where the seed's events go.
    var events: EventBus { core.events }
    /// Counters and gauges.
    var metrics: EngineMetrics { core.metrics }
}
