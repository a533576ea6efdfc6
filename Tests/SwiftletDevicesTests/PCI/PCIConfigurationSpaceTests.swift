import Testing
import SwiftletDevices

@Suite struct PCIConfigurationSpaceTests {
    func space() -> PCIConfigurationSpace {
        PCIConfigurationSpace(
            vendorID: 0x1AF4, deviceID: 0x1042, classCode: 0x01_00_00, revision: 1,
            subsystemVendorID: 0x1AF4, subsystemID: 0x40, interruptPin: 1)
    }

    @Test func identityIsReadOnly() {
        var config = space()
        #expect(config.read(offset: 0, size: 4) == 0x1042_1AF4)
        #expect(config.read(offset: 8, size: 4) == 0x0100_0001)
        #expect(config.read(offset: 0x2C, size: 4) == 0x0040_1AF4)
        for offset in [0, 8, 0x2C, 0x34, 0x3D] { config.write(offset: offset, size: 4, value: 0xDEAD_BEEF) }
        #expect(config.read(offset: 0, size: 4) == 0x1042_1AF4)
        #expect(config.read(offset: 8, size: 4) == 0x0100_0001)
        #expect(config.read(offset: 0x2C, size: 4) == 0x0040_1AF4)
        #expect(config.read(offset: 0x3D, size: 1) == 1)  // interrupt pin
        #expect(config.read(offset: 0x3E, size: 2) == 0)
    }

    @Test func commandStatusAndInterruptLineMasks() {
        var config = space()
        let changes = config.write(offset: 4, size: 4, value: 0xFFFF_FFFF)
        // Command: memory, bus master, parity, SERR, INTx disable; never I/O space.
        #expect(config.command == 0x0546)
        #expect(changes == [.memorySpace, .busMaster])
        // Status error bits are write-one-to-clear and were clear: still clear.
        #expect(config.status == 0)
        config.write(offset: 0x3C, size: 1, value: 11)
        #expect(config.read(offset: 0x3C, size: 1) == 11)
        #expect(config.write(offset: 4, size: 2, value: 0x0546) == [])
        #expect(config.write(offset: 4, size: 1, value: 0x04) == [.memorySpace])
        #expect(!config.memorySpaceEnabled && config.busMasterEnabled)
    }

    @Test func badAccessesReadOnesAndWriteNothing() {
        var config = space()
        #expect(config.read(offset: 0xFFF, size: 2) == 0xFFFF)
        #expect(config.read(offset: 0, size: 3) == 0xFF_FFFF)
        #expect(config.read(offset: -4, size: 4) == 0xFFFF_FFFF)
        #expect(config.read(offset: 0x1000, size: 1) == 0xFF)
        #expect(config.write(offset: 0xFFE, size: 4, value: 0) == [])
        #expect(config.write(offset: 4, size: 8, value: 6) == [])
        #expect(config.command == 0)
    }

    @Test func thirtyTwoBitBARSizeProbe() throws {
        var config = space()
        try config.addBAR(PCIBAR(index: 1, size: 0x1000, kind: .memory32))
        #expect(config.read(offset: 0x14, size: 4) == 0)
        #expect(config.write(offset: 0x14, size: 4, value: 0xFFFF_FFFF) == [.barAddress])
        #expect(config.read(offset: 0x14, size: 4) == 0xFFFF_F000)
        config.write(offset: 0x14, size: 4, value: 0xC000_1234)
        #expect(config.barAddress(1) == 0xC000_1000)
        // Unused BARs are read-only zero.
        config.write(offset: 0x10, size: 4, value: 0xFFFF_FFFF)
        #expect(config.read(offset: 0x10, size: 4) == 0)
        #expect(config.barAddress(0) == nil)
    }

    @Test func sixtyFourBitBARSizeProbe() throws {
        var config = space()
        try config.addBAR(PCIBAR(index: 0, size: 0x8000, kind: .memory64))
        try config.addBAR(PCIBAR(index: 2, size: 0x2_0000_0000, kind: .memory64, prefetchable: true))
        #expect(config.read(offset: 0x10, size: 4) == 0x4)
        config.write(offset: 0x10, size: 4, value: 0xFFFF_FFFF)
        config.write(offset: 0x14, size: 4, value: 0xFFFF_FFFF)
        #expect(config.read(offset: 0x10, size: 4) == 0xFFFF_8004)
        #expect(config.read(offset: 0x14, size: 4) == 0xFFFF_FFFF)
        // An 8 GiB BAR: the low register's address bits are all below the size.
        config.write(offset: 0x18, size: 4, value: 0xFFFF_FFFF)
        config.write(offset: 0x1C, size: 4, value: 0xFFFF_FFFF)
        #expect(config.read(offset: 0x18, size: 4) == 0x0000_000C)
        #expect(config.read(offset: 0x1C, size: 4) == 0xFFFF_FFFE)
        config.write(offset: 0x10, size: 4, value: 0xD000_0000)
        config.write(offset: 0x14, size: 4, value: 0x1)
        #expect(config.barAddress(0) == 0x1_D000_0000)
    }

    @Test func barDeclarationsAreChecked() {
        var config = space()
        #expect(throws: PCIConfigurationError.barSizeInvalid(index: 0, size: 0x1800)) {
            try config.addBAR(PCIBAR(index: 0, size: 0x1800, kind: .memory32))
        }
        #expect(throws: PCIConfigurationError.barIndexInvalid(5)) {
            try config.addBAR(PCIBAR(index: 5, size: 0x1000, kind: .memory64))
        }
        #expect(throws: Never.self) { try config.addBAR(PCIBAR(index: 0, size: 0x1000, kind: .memory64)) }
        #expect(throws: PCIConfigurationError.barInUse(1)) {
            try config.addBAR(PCIBAR(index: 1, size: 0x1000, kind: .memory32))
        }
    }

    @Test func capabilityChainIsLinked() throws {
        var config = space()
        #expect(capabilityList { config.read(offset: $0, size: $1) }.isEmpty)
        let a = try config.appendCapability(id: 0x09, body: [1, 2, 3])
        let b = try config.appendCapability(id: 0x11, body: Array(repeating: 0, count: 10), writableMask: [0, 0xC0])
        let c = try config.appendCapability(id: 0x05, body: [7])
        #expect(config.status & PCIConfigurationSpace.statusCapabilityList != 0)
        let walked = capabilityList { config.read(offset: $0, size: $1) }
        #expect(walked.map(\.id) == [0x09, 0x11, 0x05])
        #expect(walked.map(\.offset) == [a, b, c])
        #expect(walked.allSatisfy { $0.offset % 4 == 0 && $0.offset >= 0x40 })
        #expect(config.read(offset: a + 2, size: 2) == 0x0201)
        // Only the masked body bits are writable.
        config.write(offset: b + 2, size: 2, value: 0xFFFF)
        #expect(config.read(offset: b + 2, size: 2) == 0xC000)
        config.write(offset: a, size: 4, value: 0)
        #expect(capabilityList { config.read(offset: $0, size: $1) }.count == 3)
        config.reset()
        #expect(config.read(offset: b + 2, size: 2) == 0)
    }

    @Test func capabilitiesMustFitTheFirst256Bytes() throws {
        var config = space()
        try config.appendCapability(id: 1, body: Array(repeating: 0, count: 150))
        #expect(throws: PCIConfigurationError.noRoomForCapability(id: 2, length: 42)) {
            try config.appendCapability(id: 2, body: Array(repeating: 0, count: 40))
        }
    }

    @Test func resetRestoresPowerOnValues() throws {
        var config = space()
        try config.addBAR(PCIBAR(index: 0, size: 0x1000, kind: .memory32))
        config.write(offset: 0x10, size: 4, value: 0xC000_0000)
        config.write(offset: 4, size: 2, value: 6)
        config.write(offset: 0x3C, size: 1, value: 5)
        config.reset()
        #expect(config.barAddress(0) == 0)
        #expect(config.command == 0)
        #expect(config.read(offset: 0x3C, size: 1) == 0)
        #expect(config.read(offset: 0, size: 2) == 0x1AF4)
    }
}
