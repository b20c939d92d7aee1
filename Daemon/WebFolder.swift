import Foundation

/// A static folder served under `/transmission/web/` (Transmission's web interface, Debian's
/// `transmission-common`). Resolving a request path is pure and refuses anything that could leave the
/// folder: `..` and `.` segments, encoded slashes and NUL, and (after resolving symbolic links) any target
/// outside the folder.
public struct WebFolder: Sendable {
    /// The folder, its symbolic links resolved.
    public let root: String
    /// The URL prefix it is served under.
    public static let prefix = "/transmission/web/"
    /// Most bytes of one file served.
    public static let maximumFileBytes = 32 << 20

    /// The folder at `path`, or nil when it is not a directory.
    public init?(path: String) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue
        else { return nil }
        root = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
    }

    /// The default folder: Transmission's web interface where Debian installs it, when present.
    public static func installed() -> WebFolder? {
        for path in ["/usr/share/transmission/public_html", "/usr/share/transmission/web"] {
            if FileManager.default.fileExists(atPath: path + "/index.html"), let folder = WebFolder(path: path) {
                return folder
            }
        }
        return nil
    }

    /// Why a path is not served.
    public enum Refusal: Error, Sendable, Hashable {
        /// The path tries to leave the folder or is malformed (403).
        case forbidden
        /// No such file (404).
        case notFound
    }

    /// The file a request path (`/transmission/web/...`, query removed) names inside the folder; the folder's
    /// `index.html` for the folder itself.
    public func resolve(_ requestPath: String) -> Result<String, Refusal> {
        guard requestPath.hasPrefix(Self.prefix) || requestPath == "/transmission/web" else {
            return .failure(.notFound)
        }
        let relative = requestPath.dropFirst(min(requestPath.count, Self.prefix.count))
        guard let decoded = String(relative).removingPercentEncoding else { return .failure(.forbidden) }
        guard !decoded.contains("\0"), !decoded.contains("\\") else { return .failure(.forbidden) }
        var segments: [Substring] = []
        for segment in decoded.split(separator: "/", omittingEmptySubsequences: true) {
            guard segment != "..", segment != "." else { return .failure(.forbidden) }
            segments.append(segment)
        }
        // A percent-encoded slash must not add a segment the check above did not see.
        if String(relative).lowercased().contains("%2f") { return .failure(.forbidden) }
        var path = root + "/" + segments.joined(separator: "/")
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            return .failure(.notFound)
        }
        if isDirectory.boolValue { path += "/index.html" }
        let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        guard resolved.hasPrefix(root + "/") else { return .failure(.forbidden) }
        guard FileManager.default.fileExists(atPath: resolved) else { return .failure(.notFound) }
        return .success(resolved)
    }

    /// The Content-Type of a file, by its extension.
    public static func contentType(of path: String) -> String {
        switch (path as NSString).pathExtension.lowercased() {
        case "html", "htm": return "text/html; charset=utf-8"
        case "js": return "application/javascript"
        case "css": return "text/css"
        case "png": return "image/png"
        case "svg": return "image/svg+xml"
        case "ico": return "image/x-icon"
        case "json": return "application/json"
        case "gif": return "image/gif"
        case "jpg", "jpeg": return "image/jpeg"
        case "woff2": return "font/woff2"
        default: return "application/octet-stream"
        }
    }
}
