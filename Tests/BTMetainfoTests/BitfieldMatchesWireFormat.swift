import BTMetainfo
import Testing

@Suite struct BitfieldMatchesWireFormat {
    @Test func highBitOfFirstByteIsPieceZero() {
        var bits = Bitfield(count: 10)
        bits[0] = true
        bits[9] = true
        #expect(bits.bytes == [0x80, 0x40])
        #expect(bits.setCount == 2)
        #expect(bits.setIndexes == [0, 9])
    }

    @Test func allSetLeavesSpareBitsClear() {
        let bits = Bitfield(count: 10, allSet: true)
        #expect(bits.bytes == [0xff, 0xc0])
        #expect(bits.isAllSet)
    }

    @Test func rejectsWrongLengthAndSpareBits() {
        #expect(Bitfield(bytes: [0xff], count: 10) == nil)
        #expect(Bitfield(bytes: [0xff, 0xe0], count: 10) == nil)
        #expect(Bitfield(bytes: [0xff, 0xc0], count: 10)?.isAllSet == true)
    }
}
