#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Resolves torrent paths under a download folder so that nothing can be read or written outside it:
/// components are validated (no `..`, `.`, empty, `/` or NUL, so no absolute paths), and every existing
/// prefix that is a symbolic link must resolve (realpath) to a place still inside the folder.
package enum SafePath {
    /// Rejects components that could escape or are not portable file names.
    package static func validate(_ components: [String], path: String) throws {
        guard !components.isEmpty else {
            throw StorageError(.unsafePath, .resolvePath, path: path, reason: "empty path")
        }
        for component in components {
            if component.isEmpty || component == "." || component == ".." || component.contains("/")
                || component.utf8.contains(0)
            {
                throw StorageError(
                    .unsafePath, .resolvePath, path: path, reason: "unsafe path component '\(component)'")
            }
        }
    }

    /// The canonical absolute form of an existing folder, or nil when it does not exist.
    package static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Whether `path` is `root` or below it (both canonical).
    package static func isInside(_ path: String, root: String) -> Bool {
        path == root || path.hasPrefix(root == "/" ? "/" : root + "/")
    }

    /// The absolute path of `components` under `root`, after checking every existing prefix with `lstat`
    /// and resolving symbolic links; throws ``StorageError/Code/unsafePath`` when a link points outside.
    package static func resolve(root: String, _ components: [String]) throws -> String {
        let display = root + "/" + components.joined(separator: "/")
        try validate(components, path: display)
        let canonicalRoot = realPath(root) ?? root
        var current = canonicalRoot
        for (position, component) in components.enumerated() {
            let candidate = current + "/" + component
            var info = stat()
            if lstat(candidate, &info) != 0 {
                // Nothing exists from here on: the rest is created by us, below `current`.
                return ([current] + components[position...]).joined(separator: "/")
            }
            if (info.st_mode & mode_t(S_IFMT)) == mode_t(S_IFLNK) {
                guard let target = realPath(candidate) else {
                    throw StorageError(
                        .unsafePath, .resolvePath, path: display, reason: "dangling symbolic link \(candidate)")
                }
                guard isInside(target, root: canonicalRoot) else {
                    throw StorageError(
                        .unsafePath, .resolvePath, path: display,
                        reason: "symbolic link \(candidate) points outside the download folder")
                }
                current = target
            } else {
                current = candidate
            }
        }
        return current
    }
}
