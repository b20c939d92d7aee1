import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// UDP sockets on the local discovery port (6771, with address reuse) in a fresh network namespace whose only
/// interface is a loopback that carries multicast: `lo` up, its MULTICAST flag on and a route for 239.0.0.0/8
/// through it, so datagrams sent to BEP 14's group come back to every socket in the namespace and reach no
/// other network. The namespace belongs to a thread of its own (see ``LoopbackNamespace``, which makes plain
/// loopback namespaces the same way); a socket stays in it whichever thread uses it. Needs root.
enum MulticastLoopbackNamespace {
    /// Why the namespace or its sockets could not be made.
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    private final class Box: @unchecked Sendable {
        var result: Result<[CInt], Failure> = .failure(Failure(description: "not run"))
    }

    /// `count` sockets bound to 0.0.0.0:`port` in one new namespace.
    static func sockets(count: Int, port: UInt16 = 6771) -> Result<[CInt], Failure> {
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            box.result = make(count: count, port: port)
            done.signal()
        }
        thread.start()
        done.wait()
        return box.result
    }

    private static func run(_ command: [String]) -> Bool {
        var pid: pid_t = 0
        var argv: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        guard posix_spawnp(&pid, command[0], nil, nil, &argv, environ) == 0 else { return false }
        var status: CInt = 0
        waitpid(pid, &status, 0)
        return status == 0
    }

    private static func make(count: Int, port: UInt16) -> Result<[CInt], Failure> {
        // unshare(2) needs _GNU_SOURCE, which the Glibc module does not import: look it up.
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "unshare") else {
            return .failure(Failure(description: "no unshare(2)"))
        }
        let unshare = unsafeBitCast(symbol, to: (@convention(c) (CInt) -> CInt).self)
        guard unshare(0x4000_0000) == 0 else {
            return .failure(Failure(description: "unshare(CLONE_NEWNET) failed: errno \(errno)"))
        }
        for command in [
            ["ip", "link", "set", "lo", "up"], ["ip", "link", "set", "lo", "multicast", "on"],
            ["ip", "route", "add", "239.0.0.0/8", "dev", "lo"],
        ] where !run(command) {
            return .failure(Failure(description: "\(command.joined(separator: " ")) failed"))
        }
        var sockets: [CInt] = []
        for _ in 0..<count {
            let fd = socket(AF_INET, CInt(SOCK_DGRAM.rawValue), 0)
            guard fd >= 0 else { return .failure(Failure(description: "socket failed: errno \(errno)")) }
            var one: CInt = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<CInt>.size))
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr.s_addr = 0
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard bound == 0 else { return .failure(Failure(description: "bind failed: errno \(errno)")) }
            sockets.append(fd)
        }
        return .success(sockets)
    }
}
