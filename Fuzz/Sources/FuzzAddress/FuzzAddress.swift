import BTMetainfo
import BTTracker

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Address text and tracker URLs, the inputs of every address security decision (issue 12).
///
/// - `IPAddress(text)` must read exactly what `getaddrinfo(AI_NUMERICHOST)` reads (no lookup, no network):
///   the same address, or nothing when the resolver does not take it as a numeric host.
/// - A parsed address round-trips through its canonical text and its bytes; an embedded IPv4 address is
///   classified the way the address itself is.
/// - A tracker URL that parses has a canonical numeric host, and its origin parses back to the same parts.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    guard size <= 512 else { return 0 }
    let text = String(decoding: bytes, as: UTF8.self)

    if !bytes.contains(0), Array(text.utf8) == Array(bytes) {
        let resolved = resolverReading(text)
        let parsed = IPAddress(text)
        // glibc takes a zone suffix (fe80::1%1) that we refuse: a refusal is safe, a different reading is not.
        if !(parsed == nil && text.contains("%")) {
            precondition(
                parsed == resolved,
                "\(text): parsed \(String(describing: parsed)), resolver \(String(describing: resolved))")
        }
    }
    for form in [IPAddress.TextForm.host, .zeroPaddedDecimal] {
        guard let address = IPAddress(text, form: form) else { continue }
        precondition(IPAddress(address.description) == address, "canonical text of \(address) does not read back")
        precondition(IPAddress(bytes: address.bytes) == address, "bytes of \(address) do not read back")
        if let inner = address.embeddedIPv4 {
            precondition(
                TrackerAddressPolicy.classify(address) == TrackerAddressPolicy.classify(inner),
                "\(address) is classified apart from the IPv4 address inside it")
        }
    }

    if let url = try? TrackerURL(text) {
        if let numeric = IPAddress(url.host) {
            precondition(url.host == numeric.description, "numeric host \(url.host) is not canonical")
        }
        let again = try? TrackerURL(url.origin + url.pathAndQuery)
        precondition(
            again?.host == url.host && again?.port == url.port && again?.scheme == url.scheme
                && again?.pathAndQuery == url.pathAndQuery,
            "\(text): the origin does not parse back to the same parts")
        precondition(url.path.hasPrefix("/") && !url.path.contains("?"))
    }
    return 0
}

/// What `getaddrinfo` with `AI_NUMERICHOST` reads `text` as, or nil.
private func resolverReading(_ text: String) -> IPAddress? {
    var hints = addrinfo()
    hints.ai_family = AF_UNSPEC
    hints.ai_flags = AI_NUMERICHOST
    var list: UnsafeMutablePointer<addrinfo>?
    guard getaddrinfo(text, nil, &hints, &list) == 0, let first = list else { return nil }
    defer { freeaddrinfo(first) }
    guard let address = first.pointee.ai_addr else { return nil }
    if first.pointee.ai_family == AF_INET {
        let v4 = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
        return IPAddress(bytes: withUnsafeBytes(of: v4) { Array($0) })
    }
    if first.pointee.ai_family == AF_INET6 {
        let v6 = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
        return IPAddress(bytes: withUnsafeBytes(of: v6) { Array($0) })
    }
    return nil
}
