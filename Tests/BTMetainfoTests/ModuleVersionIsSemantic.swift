import BTMetainfo
import Testing

@Test func BTMetainfoVersionIsSemantic() {
    let parts = BTMetainfoVersion.current.split(separator: ".")
    #expect(parts.count == 3 && parts.allSatisfy { Int($0) != nil })
}
