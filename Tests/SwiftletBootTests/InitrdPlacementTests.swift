import Testing
@testable import SwiftletBoot

@Suite struct InitrdPlacementTests {
    let kernel: Range<UInt64> = 0x100_0000..<0x300_0000

    @Test func goesAsHighAsRAMAllows() {
        let placement = InitrdPlacement(size: 0x12345, initrdAddressMax: 0x7FFF_FFFF, ramTopBelow4G: 256 << 20, kernel: kernel)
        #expect(placement.ceiling == 0x1000_0000)
        #expect(placement.address == 0xFFE_D000)  // page-aligned, ends at or below the top
    }

    @Test func respectsInitrdAddressMax() {
        let placement = InitrdPlacement(size: 0x1000, initrdAddressMax: 0x37FF_FFFF, ramTopBelow4G: 0xC000_0000, kernel: kernel)
        #expect(placement.ceiling == 0x3800_0000)
        #expect(placement.address == 0x37FF_F000)
        // An initrd_addr_max that is not page-aligned - 1 still yields a page-aligned end.
        let odd = InitrdPlacement(size: 0x1000, initrdAddressMax: 0x37FF_F7FF, ramTopBelow4G: 0xC000_0000, kernel: kernel)
        #expect(odd.address == 0x37FF_E000)
    }

    @Test func ducksUnderAKernelInTheWay() {
        let high: Range<UInt64> = 0xF00_0000..<0x1000_0000
        let placement = InitrdPlacement(size: 0x20_0000, initrdAddressMax: 0x7FFF_FFFF, ramTopBelow4G: 256 << 20, kernel: high)
        #expect(placement.address == 0xEE0_0000)
    }

    @Test func saysWhenItDoesNotFit() {
        let placement = InitrdPlacement(size: 300 << 20, initrdAddressMax: 0x37FF_FFFF, ramTopBelow4G: 256 << 20, kernel: kernel)
        #expect(placement.address == nil)
        let error = BootError.initrdDoesNotFit(path: "/x", size: 300 << 20, ceiling: placement.ceiling, ramSize: 256 << 20)
        #expect(error.description == "initrd /x: 300 MiB does not fit below 0x10000000 in 256 MiB of RAM")
        // Room above the kernel is too small, and below it too.
        let squeezed = InitrdPlacement(size: 0x100_0000, initrdAddressMax: 0x7FFF_FFFF, ramTopBelow4G: 0x380_0000, kernel: kernel)
        #expect(squeezed.address == nil)
    }
}
