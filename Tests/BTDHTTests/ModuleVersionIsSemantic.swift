import BTDHT
import Testing

@Test func BTDHTVersionIsSemantic() {
    let parts = BTDHTVersion.current.split(separator: ".")
    #expect(parts.count == 3 && parts.allSatisfy { Int($0) != nil })
}
