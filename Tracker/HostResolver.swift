import BTMetainfo
import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Resolves tracker host names to every address (so the address policy can check them all), off the event
/// loops, on NIO's blocking-I/O thread pool.
package enum HostResolver {
    /// The addresses of `host`. A numeric host is read as `getaddrinfo` reads it (`IPAddress.init(_:form:)`)
    /// and returned without a lookup, so the address checked is the address connected to.
    package static func resolve(_ host: String) async throws(TrackerError) -> [IPAddress] {
        if let numeric = IPAddress(host) { return [numeric] }
        do {
            return try await NIOThreadPool.singleton.runIfActive { try lookup(host) }
        } catch let error as TrackerError {
            throw error
        } catch {
            throw TrackerError(.connectionFailed, "cannot resolve \(host): \(error)")
        }
    }

    private static func lookup(_ host: String) throws -> [IPAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Darwin)
            hints.ai_socktype = SOCK_DGRAM
        #else
            hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &list)
        guard status == 0, let first = list else {
            throw TrackerError(.connectionFailed, "cannot resolve \(host): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(first) }
        var out: [[UInt8]] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let entry = cursor, out.count < 32 {
            if let address = entry.pointee.ai_addr {
                if entry.pointee.ai_family == AF_INET {
                    let v4 = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
                    out.append(withUnsafeBytes(of: v4) { Array($0) })
                } else if entry.pointee.ai_family == AF_INET6 {
                    let v6 = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
                    out.append(withUnsafeBytes(of: v6) { Array($0) })
                }
            }
            cursor = entry.pointee.ai_next
        }
        var unique: [IPAddress] = []
        for bytes in out {
            guard let address = IPAddress(bytes: bytes), !unique.contains(address) else { continue }
            unique.append(address)
        }
        return unique
    }

    /// A readable text for a socket error (`Connection refused (errno 111)` rather than NIO's debug form).
    package static func describe(_ error: any Error) -> String {
        guard let io = error as? IOError else { return "\(error)" }
        return "\(String(cString: strerror(io.errnoCode))) (errno \(io.errnoCode))"
    }

    /// A socket address for `address` and `port`.
    package static func socketAddress(_ address: IPAddress, port: Int) throws(TrackerError) -> SocketAddress {
        var buffer = ByteBuffer()
        buffer.writeBytes(address.bytes)
        do {
            return try SocketAddress(packedIPAddress: buffer, port: port)
        } catch {
            throw TrackerError(.invalidURL, "bad address: \(error)")
        }
    }
}
