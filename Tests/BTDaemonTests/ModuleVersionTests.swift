import BTDaemon
import Testing

@Suite struct BTDaemonVersionTests {
    @Test func versionIsSemantic() {
        let parts = BTDaemonVersion.current.split(separator: ".")
        #expect(parts.count == 3 && parts.allSatisfy { Int($0) != nil })
    }
}
