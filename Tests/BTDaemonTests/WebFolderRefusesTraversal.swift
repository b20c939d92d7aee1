import Foundation
import Testing

@testable import BTDaemon

/// The web folder serves its files and nothing outside it: `..`, encoded `..` and slashes, NUL, and
/// symbolic links pointing out are refused.
@Suite struct WebFolderRefusesTraversal {
    static func makeFolder() throws -> (String, WebFolder) {
        let base = NSTemporaryDirectory() + "nbt-web-\(UInt64.random(in: 0...UInt64.max))"
        try FileManager.default.createDirectory(atPath: base + "/web/js", withIntermediateDirectories: true)
        try Data("<html>".utf8).write(to: URL(fileURLWithPath: base + "/web/index.html"))
        try Data("x".utf8).write(to: URL(fileURLWithPath: base + "/web/js/app.js"))
        try Data("secret".utf8).write(to: URL(fileURLWithPath: base + "/secret.txt"))
        try FileManager.default.createSymbolicLink(
            atPath: base + "/web/escape", withDestinationPath: base + "/secret.txt")
        return (base, try #require(WebFolder(path: base + "/web")))
    }

    @Test func filesInsideAreServed() throws {
        let (base, web) = try Self.makeFolder()
        defer { try? FileManager.default.removeItem(atPath: base) }
        #expect(try web.resolve("/transmission/web/").get().hasSuffix("/web/index.html"))
        #expect(try web.resolve("/transmission/web/js/app.js").get().hasSuffix("/web/js/app.js"))
        #expect(web.resolve("/transmission/web/js%2Fapp.js") == .failure(.forbidden))
        #expect(web.resolve("/transmission/web/missing.js") == .failure(.notFound))
        #expect(WebFolder.contentType(of: "a.js") == "application/javascript")
    }

    @Test(arguments: [
        "/transmission/web/../secret.txt", "/transmission/web/js/../../secret.txt",
        "/transmission/web/%2e%2e/secret.txt",
        "/transmission/web/..%2fsecret.txt", "/transmission/web/escape", "/transmission/web/%00",
        "/transmission/web/..\\secret.txt",
        "/transmission/web/%zz",
    ])
    func pathsLeavingTheFolderAreForbidden(path: String) throws {
        let (base, web) = try Self.makeFolder()
        defer { try? FileManager.default.removeItem(atPath: base) }
        #expect(web.resolve(path) == .failure(.forbidden), "\(path)")
    }
}
