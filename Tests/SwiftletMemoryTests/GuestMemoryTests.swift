import Testing
@testable import SwiftletMemory

@Suite struct GuestMemoryTests {
    @Test func readsBackWhatWasWritten() throws {
        let memory = try GuestMemory(ranges: [(0, 0x10000)])
        try memory.write(UInt32(0xdead_beef), at: GuestAddress(0x1001))
        #expect(try memory.read(UInt32.self, at: GuestAddress(0x1001)) == 0xdead_beef)
        try memory.write(bytes: [1, 2, 3], at: GuestAddress(0xfffd))
        #expect(try memory.readBytes(at: GuestAddress(0xfffd), count: 3) == [1, 2, 3])
    }

    @Test func refusesRangesOutsideRAM() throws {
        let memory = try GuestMemory(ranges: [(0, 0x10000)])
        #expect(throws: GuestMemoryError.outOfRange(GuestAddress(0xfffe), count: 4)) {
            try memory.write(UInt32(1), at: GuestAddress(0xfffe))
        }
        #expect(throws: GuestMemoryError.self) { try memory.readBytes(at: GuestAddress(0x10000), count: 1) }
        // A range that wraps past 2^64 must not alias low memory.
        #expect(!memory.contains(GuestAddress(UInt64.max - 1), count: 4))
        #expect(throws: GuestMemoryError.self) { try memory.readBytes(at: GuestAddress(UInt64.max), count: 2) }
    }

    @Test func keepsTheMMIOHoleOutOfRAM() throws {
        let ranges = X86MemoryMap.ramRanges(size: 4 << 30)
        #expect(ranges.count == 2)
        #expect(ranges[0].start == 0 && ranges[0].size == X86MemoryMap.mmioHoleStart)
        #expect(ranges[1].start == X86MemoryMap.mmioHoleEnd && ranges[1].size == (1 << 30))
        let memory = try GuestMemory(ranges: ranges)
        #expect(!memory.contains(GuestAddress(X86MemoryMap.mmioHoleStart), count: 1))
        #expect(memory.contains(GuestAddress(X86MemoryMap.mmioHoleEnd), count: 1 << 30))
        // A range may not straddle the hole even though both ends are RAM-adjacent.
        #expect(!memory.contains(GuestAddress(X86MemoryMap.mmioHoleStart - 1), count: 2))
        #expect(memory.size == 4 << 30)
    }

    @Test func smallRAMIsOneRange() {
        let ranges = X86MemoryMap.ramRanges(size: 256 << 20)
        #expect(ranges.count == 1 && ranges[0].size == 256 << 20)
    }
}
