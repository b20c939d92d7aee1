import BTEngine
import Testing

@Test func BTEngineVersionIsSemantic() {
    let parts = BTEngineVersion.current.split(separator: ".")
    #expect(parts.count == 3 && parts.allSatisfy { Int($0) != nil })
}
