import Testing

@testable import BTUTP

/// Sequence numbers and timestamps compare across the wrap (BEP 29: "all sequence numbers wrap").
struct SequenceNumbersWrapAround {
    @Test func sixteenBitComparisonCrossesTheWrap() {
        #expect(Wrapping.isBefore(UInt16(0xfffe), UInt16(0xffff)))
        #expect(Wrapping.isBefore(UInt16(0xffff), UInt16(0)))
        #expect(Wrapping.isBefore(UInt16(0xfff0), UInt16(5)))
        #expect(!Wrapping.isBefore(UInt16(5), UInt16(0xfff0)))
        #expect(!Wrapping.isBefore(UInt16(7), UInt16(7)))
        #expect(Wrapping.distance(from: 0xfffe, to: 2) == 4)
    }

    @Test func thirtyTwoBitTimestampsCompareAcrossTheWrap() {
        #expect(Wrapping.isBefore(UInt32.max - 10, UInt32(10)))
        #expect(!Wrapping.isBefore(UInt32(10), UInt32.max - 10))
    }
}
