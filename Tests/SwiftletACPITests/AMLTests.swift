import Testing
@testable import SwiftletACPI

@Suite struct AMLTests {
    @Test func pkgLengthBoundaries() {
        #expect(AML.pkgLength(0) == [0x00])
        #expect(AML.pkgLength(63) == [0x3F])
        #expect(AML.pkgLength(64) == [0x40, 0x04])
        #expect(AML.pkgLength(4095) == [0x4F, 0xFF])
        #expect(AML.pkgLength(4096) == [0x80, 0x00, 0x01])
        #expect(AML.pkgLength(0xF_FFFF) == [0x8F, 0xFF, 0xFF])
        #expect(AML.pkgLength(0x10_0000) == [0xC0, 0x00, 0x00, 0x01])
        #expect(AML.pkgLength(0xFFF_FFFF) == [0xCF, 0xFF, 0xFF, 0xFF])
        #expect(AML.pkgLength(0x1000_0000) == nil)
        #expect(AML.pkgLength(-1) == nil)
    }

    /// A PkgLength counts its own bytes, so the form switches one byte early.
    @Test func pkgLengthIncludesItself() {
        let at62 = AML.withPkgLength([UInt8](repeating: 0xAA, count: 62))
        #expect(at62.count == 63 && at62[0] == 63)
        let at63 = AML.withPkgLength([UInt8](repeating: 0xAA, count: 63))
        #expect(Array(at63.prefix(2)) == [0x41, 0x04])  // 65 = 0x41
        let at4093 = AML.withPkgLength([UInt8](repeating: 0, count: 4093))
        #expect(Array(at4093.prefix(2)) == [0x4F, 0xFF])
        let at4094 = AML.withPkgLength([UInt8](repeating: 0, count: 4094))
        #expect(Array(at4094.prefix(3)) == [0x81, 0x00, 0x01])  // 4097
    }

    @Test func integersUseTheShortestForm() {
        #expect(AML.integer(0).bytes == [0x00])
        #expect(AML.integer(1).bytes == [0x01])
        #expect(AML.integer(2).bytes == [0x0A, 0x02])
        #expect(AML.integer(0x100).bytes == [0x0B, 0x00, 0x01])
        #expect(AML.integer(0x1_0000).bytes == [0x0C, 0x00, 0x00, 0x01, 0x00])
        #expect(AML.integer(0x1_0000_0000).bytes == [0x0E, 0, 0, 0, 0, 1, 0, 0, 0])
    }

    @Test func eisaIDsCompressLikeIasl() {
        #expect(AML.eisaID("PNP0501").bytes == [0x0C, 0x41, 0xD0, 0x05, 0x01])
        #expect(AML.eisaID("PNP0A08").bytes == [0x0C, 0x41, 0xD0, 0x0A, 0x08])
        // Not an EISA ID: a string, as _HID("QEMU0001") is written.
        #expect(AML.eisaID("QEMU0001").bytes == [0x0D] + Array("QEMU0001".utf8) + [0])
    }

    @Test func namesAndScopes() {
        #expect(AML.nameString("_SB") == Array("_SB_".utf8))
        #expect(AML.nameString("\\_SB_") == [0x5C] + Array("_SB_".utf8))
        #expect(AML.nameString("\\_SB.PCI0") == [0x5C, 0x2E] + Array("_SB_PCI0".utf8))
        #expect(AML.nameString("\\_SB.PCI0.ISA") == [0x5C, 0x2F, 3] + Array("_SB_PCI0ISA_".utf8))
        #expect(AML.nameString("^FOO") == [0x5E] + Array("FOO_".utf8))
        #expect(AML.nameString("\\") == [0x5C, 0x00])
        let device = AML.device("COM1", [.name("_UID", .integer(0))])
        #expect(device.bytes == [0x5B, 0x82, 0x0B] + Array("COM1".utf8) + [0x08] + Array("_UID".utf8) + [0x00])
        let scope = AML.scope("\\_SB_", [])
        #expect(scope.bytes == [0x10, 0x06, 0x5C] + Array("_SB_".utf8))
        let method = AML.method("_STA", [.return(.integer(0x0F))])
        #expect(method.bytes == [0x14, 0x09] + Array("_STA".utf8) + [0x00, 0xA4, 0x0A, 0x0F])
    }

    @Test func resourceTemplatesEndWithAChecksum() {
        let template = AML.resourceTemplate([.ioPort(0x60, length: 1), .irqNoFlags([1])])
        // BufferOp, PkgLength, BufferSize (ByteConst 13), 8 + 3 + 2 bytes of resources.
        #expect(Array(template.bytes.prefix(4)) == [0x11, 0x10, 0x0A, 0x0D])
        let contents = Array(template.bytes.dropFirst(4))
        #expect(contents.count == 13)
        #expect(Array(contents.prefix(11)) == [0x47, 0x01, 0x60, 0x00, 0x60, 0x00, 0x01, 0x01, 0x22, 0x02, 0x00])
        #expect(contents[11] == 0x79)
        #expect(ACPIChecksum.sum(contents) == 0)
    }

    @Test func addressSpaceDescriptors() {
        let bus = ResourceDescriptor.wordBusNumber(min: 0, max: 0xFF).encoded()
        #expect(bus == [0x88, 0x0D, 0x00, 0x02, 0x0C, 0x00, 0, 0, 0, 0, 0xFF, 0, 0, 0, 0x00, 0x01])
        let memory = ResourceDescriptor.dwordMemory(min: 0xC000_0000, max: 0xFEBF_FFFF, cacheable: false).encoded()
        #expect(memory.count == 26 && memory[0] == 0x87 && memory[1] == 23)
        #expect(memory.le(10, 4) == 0xC000_0000 && memory.le(22, 4) == 0x3EC0_0000)
        let high = ResourceDescriptor.qwordMemory(min: 0x1_0000_0000, max: 0x1_FFFF_FFFF, cacheable: true).encoded()
        #expect(high.count == 46 && high[5] == 0x03 && high.le(38, 8) == 0x1_0000_0000)
    }

    /// The bytes iasl emits for `Memory32Fixed(ReadWrite, 0xF0000000, 0x200)` and
    /// `Interrupt(ResourceConsumer, Edge, ActiveHigh, Exclusive) {5}`.
    @Test func memory32FixedAndExtendedInterruptMatchIasl() {
        #expect(ResourceDescriptor.memory32Fixed(base: 0xF000_0000, length: 0x200).encoded()
            == [0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xF0, 0x00, 0x02, 0x00, 0x00])
        #expect(ResourceDescriptor.interrupt(gsis: [5], edgeTriggered: true, activeLow: false).encoded()
            == [0x89, 0x06, 0x00, 0x03, 0x01, 0x05, 0x00, 0x00, 0x00])
        #expect(ResourceDescriptor.interrupt(gsis: [16, 17], edgeTriggered: false, activeLow: true).encoded()
            == [0x89, 0x0A, 0x00, 0x05, 0x02, 0x10, 0, 0, 0, 0x11, 0, 0, 0])
    }

    @Test func virtioMMIODeviceCarriesItsWindowAndPin() {
        let device = AMLDevices.virtioMMIO(index: 10, base: 0xF000_A000, size: 0x200, gsi: 16).bytes
        #expect(Array(device.prefix(2)) == [0x5B, 0x82])
        #expect(device.contains(subsequence: Array("VR0A".utf8)))
        #expect(device.contains(subsequence: [0x08] + Array("_HID".utf8) + [0x0D] + Array("LNRO0005".utf8) + [0]))
        #expect(device.contains(subsequence: [0x08] + Array("_UID".utf8) + [0x0A, 10]))
        #expect(device.contains(subsequence: [0x86, 0x09, 0x00, 0x01, 0x00, 0xA0, 0x00, 0xF0, 0x00, 0x02, 0, 0]))
        #expect(device.contains(subsequence: [0x89, 0x06, 0x00, 0x03, 0x01, 0x10, 0, 0, 0, 0x79]))
    }
}
