import BTUTP
import Testing

@Test func BTUTPVersionIsSemantic() {
    let parts = BTUTPVersion.current.split(separator: ".")
    #expect(parts.count == 3 && parts.allSatisfy { Int($0) != nil })
}
