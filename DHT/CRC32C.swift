/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), which BEP 42 uses to bind a node id to its IP.
///
/// Written here because none of the project's dependencies exposes CRC-32C (swift-crypto has only
/// cryptographic hashes, SwiftNIO only CRC-32 inside its compression support), and BEP 42 hashes at most
/// 8 bytes, so a table-driven loop is all that is needed.
enum CRC32C {
    static let table: [UInt32] = (0..<256).map { index in
        var crc = UInt32(index)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        return crc
    }

    static func checksum(_ bytes: some Sequence<UInt8>) -> UInt32 {
        var crc: UInt32 = ~0
        for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xff)] ^ (crc >> 8) }
        return ~crc
    }
}
