import SwiftletMemory
import Testing
@testable import SwiftletBoot

@Suite struct E820MapTests {
    typealias Entry = E820Entry

    @Test func smallRAMStaysBelowTheHole() throws {
        let map = try E820Map(ramRanges: X86MemoryMap.ramRanges(size: 256 << 20))
        #expect(map.entries == [
            Entry(address: 0, size: 0x9FC00, kind: .ram),
            Entry(address: 0x9FC00, size: 0x100000 - 0x9FC00, kind: .reserved),
            Entry(address: 0x100000, size: (256 << 20) - 0x100000, kind: .ram),
        ])
        #expect(map.ramTopBelow4G == 256 << 20)
    }

    @Test func largeRAMResumesAbove4GiB() throws {
        let map = try E820Map(
            ramRanges: X86MemoryMap.ramRanges(size: 4 << 30),
            extraReserved: [(start: 0xE000_0000, size: 0x1000_0000)])
        #expect(map.entries == [
            Entry(address: 0, size: 0x9FC00, kind: .ram),
            Entry(address: 0x9FC00, size: 0x60400, kind: .reserved),
            Entry(address: 0x100000, size: 0xC000_0000 - 0x100000, kind: .ram),
            Entry(address: 0xE000_0000, size: 0x1000_0000, kind: .reserved),
            Entry(address: 0x1_0000_0000, size: 1 << 30, kind: .ram),
        ])
        #expect(map.ramTopBelow4G == 0xC000_0000)
    }

    @Test func refusesMoreThanBootParamsHolds() {
        let many = (0..<130).map { (start: 0x1_0000_0000 + UInt64($0) * 0x2000, size: UInt64(0x1000)) }
        #expect(throws: BootError.tooManyE820Entries(133)) {
            try E820Map(ramRanges: X86MemoryMap.ramRanges(size: 256 << 20), extraReserved: many)
        }
    }
}
