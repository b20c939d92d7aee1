import BTTracker
import Testing

@Test func BTTrackerVersionIsSemantic() {
    let parts = BTTrackerVersion.current.split(separator: ".")
    #expect(parts.count == 3 && parts.allSatisfy { Int($0) != nil })
}
