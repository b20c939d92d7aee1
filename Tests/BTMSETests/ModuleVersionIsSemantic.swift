import BTMSE
import Testing

@Test func BTMSEVersionIsSemantic() {
    let parts = BTMSEVersion.current.split(separator: ".")
    #expect(parts.count == 3 && parts.allSatisfy { Int($0) != nil })
}
