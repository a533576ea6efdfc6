import SwiftletMemory
import Testing
@testable import SwiftletBoot

@Suite struct BootParamsTests {
    func u32(_ bytes: [UInt8], _ at: Int) -> UInt32 { bytes.u32(at: at) ?? 0xDEAD }
    func u64(_ bytes: [UInt8], _ at: Int) -> UInt64 { bytes.u64(at: at) ?? 0xDEAD }

    @Test func fieldsLandAtBootparamHOffsets() throws {
        let header = try SetupHeader(bzImage: TestImages.bzImage(payload: [0]))
        var params = BootParams(header: header)
        params.setCommandLine(at: GuestAddress(0x1_0002_0000))
        params.setRamdisk(at: GuestAddress(0x1_2345_6000), size: 0x2_0000_1000)
        params.setACPIRSDP(GuestAddress(0xE0000))
        params.setE820(try E820Map(ramRanges: X86MemoryMap.ramRanges(size: 256 << 20)))
        let bytes = params.bytes

        #expect(bytes.count == 4096)
        #expect(u64(bytes, 0x070) == 0xE0000)  // acpi_rsdp_addr
        #expect(u32(bytes, 0x228) == 0x0002_0000 && u32(bytes, 0x0C8) == 1)  // cmd_line_ptr, ext_
        #expect(u32(bytes, 0x218) == 0x2345_6000 && u32(bytes, 0x0C0) == 1)  // ramdisk_image, ext_
        #expect(u32(bytes, 0x21C) == 0x1000 && u32(bytes, 0x0C4) == 2)  // ramdisk_size, ext_
        #expect(bytes[0x210] == 0xFF)  // type_of_loader
        #expect(bytes[0x211] == 0x81)  // LOADED_HIGH | CAN_USE_HEAP
        #expect(bytes.u16(at: 0x224) == 0xFE00)  // heap_end_ptr
        #expect(bytes.u16(at: 0x1FE) == 0xAA55 && u32(bytes, 0x202) == 0x5372_6448)
        #expect(u32(bytes, 0x238) == 2048)  // cmdline_size survives the copy
        #expect(bytes[0x26C] == 0)  // the header stops where its jump says
        #expect(bytes[0x1EF] == 0)  // sentinel: we copied only the header

        #expect(bytes[0x1E8] == 3)  // e820_entries
        #expect(u64(bytes, 0x2D0) == 0 && u64(bytes, 0x2D8) == 0x9FC00 && u32(bytes, 0x2E0) == 1)
        #expect(u64(bytes, 0x2E4) == 0x9FC00 && u32(bytes, 0x2F4) == 2)
        #expect(u64(bytes, 0x2F8) == 0x100000 && u64(bytes, 0x300) == (256 << 20) - 0x100000 && u32(bytes, 0x308) == 1)
        #expect(bytes[0x30C] == 0)
    }

    @Test func aHostileHeaderCannotSpillIntoTheE820Table() throws {
        var image = TestImages.bzImage(payload: [0])
        image[0x201] = 0xFF  // a jump over 255 bytes: the "header" would reach 0x301
        for index in 0x26C..<0x301 { image[index] = 0xEE }
        let params = BootParams(header: try SetupHeader(bzImage: image))
        #expect(params.bytes[0x28F] == 0xEE)
        #expect(params.bytes[0x290] == 0)
    }
}
