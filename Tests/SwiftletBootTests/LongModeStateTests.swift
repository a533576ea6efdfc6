import SwiftletMemory
import Testing
@testable import SwiftletBoot

@Suite struct LongModeStateTests {
    @Test func gdtBytesMatchTheContract() throws {
        let memory = try GuestMemory(ranges: [(0, 0x10_0000)])
        try GDT.write(to: memory)
        #expect(try memory.read(UInt64.self, at: GuestAddress(0x500)) == 0)
        #expect(try memory.read(UInt64.self, at: GuestAddress(0x508)) == 0)
        #expect(try memory.read(UInt64.self, at: GuestAddress(0x510)) == 0x00AF_9B00_0000_FFFF)
        #expect(try memory.read(UInt64.self, at: GuestAddress(0x518)) == 0x00CF_9300_0000_FFFF)
        #expect(GDT.limit == 6 * 8 - 1)
    }

    @Test func segmentsDecodeTheDescriptors() {
        let state = LongModeState.entry
        let code = state.cs
        #expect(code.selector == 0x10 && code.base == 0 && code.limit == 0xFFFF_FFFF)
        #expect(code.type == 0xB && code.present && code.s && code.l && !code.db && code.g && code.dpl == 0)
        let data = state.ss
        #expect(data.selector == 0x18 && data.type == 0x3 && data.db && !data.l && data.present && data.s)
        #expect(state.ds == data && state.es == data && state.fs == data && state.gs == data)
        #expect(state.tr.selector == 0x20 && state.tr.type == 0xB && !state.tr.s && state.tr.present)
        #expect(state.tr.limit == 0x67 && !state.tr.g)
        #expect(state.ldt.unusable)
        #expect(state.gdtBase == 0x500)
    }

    @Test func controlRegistersEnterLongMode() {
        let state = LongModeState.entry
        #expect(state.cr0 == 0x8001_0033)  // PG | WP | NE | ET | MP | PE
        #expect(state.cr3 == 0x9000)
        #expect(state.cr4 == 0x20)  // PAE
        #expect(state.efer == 0x500)  // LMA | LME
    }

    @Test func pageTablesIdentityMapFourGiB() throws {
        let memory = try GuestMemory(ranges: [(0, 0x10_0000)])
        try memory.fill(0xAA, at: GuestAddress(0x9000), count: 0x6000)  // stale junk must go
        try PageTables.write(to: memory)
        #expect(try memory.read(UInt64.self, at: GuestAddress(0x9000)) == 0xA003)
        #expect(try memory.read(UInt64.self, at: GuestAddress(0x9008)) == 0)
        for gigabyte in 0..<4 {
            let entry = try memory.read(UInt64.self, at: GuestAddress(0xA000 + UInt64(gigabyte) * 8))
            #expect(entry == 0xB003 + UInt64(gigabyte) * 0x1000)
        }
        #expect(try memory.read(UInt64.self, at: GuestAddress(0xA020)) == 0)
        #expect(try memory.read(UInt64.self, at: GuestAddress(0xB000)) == 0x83)
        #expect(try memory.read(UInt64.self, at: GuestAddress(0xB008)) == 0x20_0083)
        // The last 2 MiB page of the fourth gigabyte.
        #expect(try memory.read(UInt64.self, at: GuestAddress(0xEFF8)) == 0xFFE0_0083)
        // Virtual address v walks to physical v: spot-check 0xC012_3456's 2 MiB page.
        let virtual: UInt64 = 0xC012_3456
        let pde = try memory.read(UInt64.self, at: GuestAddress(0xB000 + (virtual >> 30) * 0x1000 + ((virtual >> 21) & 511) * 8))
        #expect(pde & ~0xFFF == virtual & ~0x1F_FFFF)
    }
}
