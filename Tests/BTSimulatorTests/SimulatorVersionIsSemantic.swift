import BTSimulator
import Testing

/// The module's version is a semantic version (three dot-separated numbers), as every module's is.
@Test func simulatorVersionIsSemantic() {
    let parts = BTSimulatorVersion.current.split(separator: ".")
    #expect(parts.count == 3 && parts.allSatisfy { Int($0) != nil })
}
