import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// UDP sockets bound to loopback addresses inside a fresh network namespace that holds only loopback, so
/// that tests with real sockets touch no network of the machine (the project's rule for uTP and the DHT).
/// Shared by every test target (the `NBTTestSupport` target) rather than copied into each.
///
/// A dedicated thread calls `unshare(CLONE_NEWNET)` (a namespace belongs to the calling thread, so the test
/// runner's threads are untouched), brings `lo` up with `ip link set lo up` (a child inherits the thread's
/// namespace), then creates and binds the sockets. A socket stays in the namespace it was created in, so
/// NIO can use it from any thread (`DatagramBootstrap.withBoundSocket`). Needs root (CAP_SYS_ADMIN).
public enum LoopbackNamespace {
    /// Why the namespace or its sockets could not be made.
    public struct Failure: Error, CustomStringConvertible {
        /// What failed, with the errno or status.
        public var description: String
    }

    private final class Box: @unchecked Sendable {
        var result: Result<[CInt], Failure> = .failure(Failure(description: "not run"))
        var process: pid_t?
    }

    /// One socket per address (host-order IPv4, e.g. 0x7f00_0002 for 127.0.0.2, all on `port`, 0 picks one)
    /// in a new namespace; if `command` is given, that program is started inside the same namespace too (its
    /// pid is returned; the caller must kill it).
    public static func udpSockets(addresses: [UInt32], port: UInt16 = 0, starting command: [String]? = nil)
        -> Result<([CInt], pid_t?), Failure>
    {
        udpSockets(addresses.map { ($0, port) }, starting: command)
    }

    /// `count` sockets on 127.0.0.1 in a new namespace (the first on `port` if not 0, the others on ports the
    /// kernel picks); if `command` is given, that program is started inside the same namespace too (its pid
    /// is returned; the caller must kill it).
    public static func udpSockets(count: Int, port: UInt16 = 0, starting command: [String]? = nil) -> Result<
        ([CInt], pid_t?), Failure
    > {
        udpSockets((0..<count).map { (0x7f00_0001, $0 == 0 ? port : 0) }, starting: command)
    }

    private static func udpSockets(_ endpoints: [(UInt32, UInt16)], starting command: [String]?) -> Result<
        ([CInt], pid_t?), Failure
    > {
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            box.result = makeSockets(endpoints)
            if case .success = box.result, let command {
                box.process = spawn(command)
                if box.process == nil { box.result = .failure(Failure(description: "cannot start \(command)")) }
            }
            done.signal()
        }
        thread.start()
        done.wait()
        return box.result.map { ($0, box.process) }
    }

    private static func spawn(_ command: [String]) -> pid_t? {
        var pid: pid_t = 0
        var argv: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        guard posix_spawnp(&pid, command[0], nil, nil, &argv, environ) == 0 else { return nil }
        return pid
    }

    private static func makeSockets(_ endpoints: [(UInt32, UInt16)]) -> Result<[CInt], Failure> {
        // unshare(2) and CLONE_NEWNET need _GNU_SOURCE, which the Glibc module does not import: look it up.
        let cloneNewNet: CInt = 0x4000_0000
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "unshare") else {
            return .failure(Failure(description: "no unshare(2)"))
        }
        let unshare = unsafeBitCast(symbol, to: (@convention(c) (CInt) -> CInt).self)
        guard unshare(cloneNewNet) == 0 else {
            return .failure(Failure(description: "unshare(CLONE_NEWNET) failed: errno \(errno)"))
        }
        guard let pid = spawn(["ip", "link", "set", "lo", "up"]) else {
            return .failure(Failure(description: "cannot run ip"))
        }
        var status: CInt = 0
        waitpid(pid, &status, 0)
        guard status == 0 else { return .failure(Failure(description: "ip link set lo up: status \(status)")) }
        var sockets: [CInt] = []
        for (ip, port) in endpoints {
            let fd = socket(AF_INET, CInt(SOCK_DGRAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr.s_addr = ip.bigEndian
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard fd >= 0, bound == 0 else { return .failure(Failure(description: "bind failed: errno \(errno)")) }
            sockets.append(fd)
        }
        return .success(sockets)
    }
}
