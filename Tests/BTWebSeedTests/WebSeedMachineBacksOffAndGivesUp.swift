import BTWebSeed
import NIOCore
import Testing

@Suite struct WebSeedMachineBacksOffAndGivesUp {
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
    let configuration = WebSeedMachine.Configuration(
        maximumConnections: 2, maximumFailures: 3, initialBackOff: .seconds(2), maximumBackOff: .seconds(60))

    @Test func requestsAreBoundedByTheConnectionCount() {
        var machine = WebSeedMachine(configuration: configuration)
        #expect(machine.canStartRequest(now: start))
        machine.requestStarted(now: start)
        machine.requestStarted(now: start)
        #expect(!machine.canStartRequest(now: start))
        #expect(machine.inFlight == 2)
        machine.requestSucceeded()
        #expect(machine.canStartRequest(now: start))
        machine.requestSucceeded()
        guard case .idle = machine.state else {
            Issue.record("not idle after every request finished: \(machine.state)")
            return
        }
    }

    @Test func failuresBackOffExponentiallyThenDrop() {
        var machine = WebSeedMachine(configuration: configuration)
        var now = start
        let error = WebSeedError(.connectionFailed, "refused")
        var rests: [TimeAmount] = []
        for _ in 0..<2 {
            machine.requestStarted(now: now)
            guard case .backOff(let until) = machine.requestFailed(error, now: now) else {
                Issue.record("dropped too early")
                return
            }
            rests.append(until - now)
            #expect(!machine.canStartRequest(now: until - .nanoseconds(1)))
            #expect(machine.canStartRequest(now: until))
            now = until
        }
        #expect(rests == [.seconds(2), .seconds(4)])
        machine.requestStarted(now: now)
        #expect(machine.requestFailed(error, now: now) == .drop(error))
        #expect(machine.isFailed && !machine.canStartRequest(now: now + .hours(1)))
    }

    @Test func successResetsTheFailureCount() {
        var machine = WebSeedMachine(configuration: configuration)
        var now = start
        for _ in 0..<5 {
            machine.requestStarted(now: now)
            guard case .backOff(let until) = machine.requestFailed(WebSeedError(.timeout, "slow"), now: now) else {
                Issue.record("dropped although each failure was followed by a success")
                return
            }
            now = until
            machine.requestStarted(now: now)
            machine.requestSucceeded()
            #expect(machine.consecutiveFailures == 0)
        }
    }

    @Test func unavailableRestsForRetryAfterWithoutCountingTowardsTheDrop() {
        var machine = WebSeedMachine(configuration: configuration)
        var now = start
        for _ in 0..<10 {
            machine.requestStarted(now: now)
            let outcome = machine.requestFailed(WebSeedError(.unavailable, "503", retryAfterSeconds: 30), now: now)
            #expect(outcome == .backOff(until: now + .seconds(30)))
            now = now + .seconds(30)
        }
        #expect(machine.consecutiveFailures == 0)
        machine.requestStarted(now: now)
        #expect(
            machine.requestFailed(WebSeedError(.unavailable, "503", retryAfterSeconds: 86_400), now: now)
                == .backOff(until: now + .seconds(60)))
    }

    @Test func refusedAddressesAndCorruptDataDropAtOnce() {
        var machine = WebSeedMachine(configuration: configuration)
        machine.requestStarted(now: start)
        let refused = WebSeedError(.addressRefused, "10.0.0.1")
        #expect(machine.requestFailed(refused, now: start) == .drop(refused))

        var other = WebSeedMachine(configuration: configuration)
        guard case .drop(let error) = other.servedCorruptPiece(7) else {
            Issue.record("a web seed that served a corrupt piece was kept")
            return
        }
        #expect(error.code == .corruptData && other.isFailed)
    }

    @Test func aRequestInFlightDuringBackOffStillFinishes() {
        var machine = WebSeedMachine(configuration: configuration)
        machine.requestStarted(now: start)
        machine.requestStarted(now: start)
        _ = machine.requestFailed(WebSeedError(.timeout, "slow"), now: start)
        #expect(machine.inFlight == 1)
        machine.received(100)
        machine.requestSucceeded()
        #expect(machine.inFlight == 0 && machine.receivedBytes == 100)
        #expect(machine.canStartRequest(now: start + .seconds(2)))
    }
}
