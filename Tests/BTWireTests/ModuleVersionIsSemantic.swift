import BTWire
import Testing

@Test func BTWireVersionIsSemantic() {
    let parts = BTWireVersion.current.split(separator: ".")
    #expect(parts.count == 3 && parts.allSatisfy { Int($0) != nil })
}
