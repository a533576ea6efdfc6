import Testing
@testable import SwiftletBoot

@Suite struct ELFImageTests {
    @Test func parsesLoadSegmentsAtPhysicalAddresses() throws {
        let bytes = TestImages.elf(entry: 0x100_0000, loads: [
            .init(paddr: 0x100_0000, data: [1, 2, 3], memsz: 0x1000),
            .init(paddr: 0x200_0000, data: [4], type: 4),  // PT_NOTE: skipped
            .init(paddr: 0x200_0000, data: [5, 6]),
        ])
        let elf = try ELFImage(bytes: bytes)
        #expect(elf.entry == 0x100_0000)
        #expect(elf.segments.count == 2)
        #expect(elf.segments[0].physicalAddress == 0x100_0000)
        #expect(elf.segments[0].fileSize == 3 && elf.segments[0].memorySize == 0x1000)
        #expect(elf.segments[1].index == 2)
        let second = elf.segments[1]
        #expect(Array(bytes[Int(second.fileOffset)..<Int(second.fileOffset + second.fileSize)]) == [5, 6])
    }

    @Test func refusesForeignELFFiles() {
        let load = [TestImages.Load(paddr: 0x100_0000, data: [1])]
        #expect(throws: KernelImageError.elfNot64Bit(1)) {
            try ELFImage(bytes: TestImages.elf(entry: 0, loads: load, elfClass: 1))
        }
        #expect(throws: KernelImageError.elfWrongMachine(183)) {
            try ELFImage(bytes: TestImages.elf(entry: 0, loads: load, machine: 183))
        }
        var bigEndian = TestImages.elf(entry: 0, loads: load)
        bigEndian[5] = 2
        #expect(throws: KernelImageError.elfNotLittleEndian) { try ELFImage(bytes: bigEndian) }
        #expect(throws: KernelImageError.badProgramHeaderSize(32)) {
            try ELFImage(bytes: TestImages.elf(entry: 0, loads: load, phentsize: 32))
        }
    }

    @Test func refusesTruncatedFiles() {
        let bytes = TestImages.elf(entry: 0x100_0000, loads: [.init(paddr: 0x100_0000, data: [1, 2, 3])])
        #expect(throws: KernelImageError.truncatedELFHeader) { try ELFImage(bytes: Array(bytes.prefix(40))) }
        #expect(throws: KernelImageError.truncatedProgramHeaders) { try ELFImage(bytes: Array(bytes.prefix(100))) }
        #expect(throws: KernelImageError.segmentOutsideFile(index: 0)) { try ELFImage(bytes: Array(bytes.dropLast())) }
        #expect(
            KernelImageError.truncatedProgramHeaders.description == "truncated ELF program header table")
    }

    @Test func refusesProgramHeadersPastTheEnd() {
        let load = [TestImages.Load(paddr: 0x100_0000, data: [1])]
        #expect(throws: KernelImageError.truncatedProgramHeaders) {
            try ELFImage(bytes: TestImages.elf(entry: 0, loads: load, phoff: 1 << 20))
        }
        // An offset chosen so that offset + size wraps to a small number.
        #expect(throws: KernelImageError.truncatedProgramHeaders) {
            try ELFImage(bytes: TestImages.elf(entry: 0, loads: load, phoff: UInt64.max - 20))
        }
    }

    @Test func refusesHostileSegments() {
        #expect(throws: KernelImageError.segmentOutsideFile(index: 0)) {
            try ELFImage(bytes: TestImages.elf(entry: 0, loads: [.init(paddr: 0x100_0000, data: [1], offset: UInt64.max)]))
        }
        #expect(throws: KernelImageError.segmentMemorySmallerThanFile(index: 0)) {
            try ELFImage(bytes: TestImages.elf(entry: 0, loads: [.init(paddr: 0x100_0000, data: [1, 2], memsz: 1)]))
        }
        #expect(throws: KernelImageError.segmentAddressOverflow(index: 0)) {
            try ELFImage(bytes: TestImages.elf(entry: 0, loads: [.init(paddr: UInt64.max - 10, data: [1], memsz: 100)]))
        }
        #expect(throws: KernelImageError.segmentsOverlap(1, 0)) {
            try ELFImage(bytes: TestImages.elf(entry: 0, loads: [
                .init(paddr: 0x100_1000, data: [1], memsz: 0x1000),
                .init(paddr: 0x100_0000, data: [1], memsz: 0x1001),
            ]))
        }
        #expect(throws: KernelImageError.noLoadableSegments) {
            try ELFImage(bytes: TestImages.elf(entry: 0, loads: [.init(paddr: 0x100_0000, data: [1], type: 4)]))
        }
    }

    @Test func toleratesAdjacentSegments() throws {
        let elf = try ELFImage(bytes: TestImages.elf(entry: 0, loads: [
            .init(paddr: 0x100_0000, data: [1], memsz: 0x1000),
            .init(paddr: 0x100_1000, data: [2]),
        ]))
        #expect(elf.segments.count == 2)
    }
}
