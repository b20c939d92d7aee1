import BTStorage
import Testing

@Test func BTStorageVersionIsSemantic() {
    let parts = BTStorageVersion.current.split(separator: ".")
    #expect(parts.count == 3 && parts.allSatisfy { Int($0) != nil })
}
