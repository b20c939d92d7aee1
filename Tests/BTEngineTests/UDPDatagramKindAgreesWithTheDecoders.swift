import BTUTP
import NIOCore
import Testing

@testable import BTEngine

/// ``UDPDatagramKind`` names what reached the end of the shared UDP socket by libtorrent's rules, and agrees
/// with the decoders that sit before it: every datagram BTUTP decodes as uTP is classed uTP (whatever its first
/// byte), a KRPC message is classed KRPC, and short or foreign bytes are neither.
@Suite struct UDPDatagramKindAgreesWithTheDecoders {
    @Test func everyDatagramTheUTPDecoderTakesIsClassedUTP() {
        var decoded = 0
        for first in 0...255 {
            for length in [19, 20, 40] {
                let bytes = [UInt8(first)] + [UInt8](repeating: 0, count: length - 1)
                let kind = UDPDatagramKind(classifying: bytes)
                if (try? UTPPacket(decoding: ByteBuffer(bytes: bytes))) != nil {
                    decoded += 1
                    #expect(kind == .utp, "first byte \(first), \(length) bytes")
                }
                // Version 1 and a type 0-4 from 20 bytes on, as libtorrent's utp_socket_manager checks.
                let looksUTP = length >= 20 && first & 0x0f == 1 && first >> 4 <= 4
                #expect((kind == .utp) == looksUTP, "first byte \(first), \(length) bytes")
            }
        }
        #expect(decoded >= 5, "ST_DATA..ST_SYN with no extension decode from 20 bytes")
    }

    @Test func krpcIsClassedKRPCAndForeignBytesAreNeither() {
        let ping = Array("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe".utf8)
        #expect(UDPDatagramKind(classifying: ping) == .krpc)
        #expect(UDPDatagramKind(classifying: Array(ping.dropLast())) == .other, "not ending in e")
        #expect(UDPDatagramKind(classifying: Array("d1:y1:qe".utf8)) == .other, "20 bytes or fewer")
        #expect(UDPDatagramKind(classifying: [UInt8]()) == .other)
        #expect(UDPDatagramKind(classifying: Array("neither uTP nor KRPC".utf8)) == .other)
        // A UDP tracker's connect answer: action 0, a transaction id, a connection id.
        #expect(UDPDatagramKind(classifying: [UInt8](repeating: 0, count: 16)) == .other)
    }
}
