import BTWebSeed
import Testing

@Suite struct BTWebSeedVersionTests {
    @Test func versionIsSemantic() {
        let parts = BTWebSeedVersion.current.split(separator: ".")
        #expect(parts.count == 3 && parts.allSatisfy { Int($0) != nil })
    }
}
