import Synchronization
import Testing
import SwiftletDevices

@Suite struct PCIBusTests {
    let mmio = Bus()
    final class ChangeLog: Sendable {
        let list = Mutex<[PCIBARChange]>([])
        func withLock<R>(_ body: (inout [PCIBARChange]) -> R) -> R { list.withLock { body(&$0) } }
    }

    let changes = ChangeLog()

    func makeBus() -> PCIBus {
        let changes = self.changes
        return PCIBus(mmio: mmio) { change in changes.withLock { $0.append(change) } }
    }

    func recorded() -> [PCIBARChange] { changes.withLock { $0 } }

    @Test func absentDevicesReadAllOnes() throws {
        let bus = makeBus()
        try bus.insert(PCIHostBridge(), slot: 0)
        #expect(bus.configRead(device: 0, function: 0, offset: 0, size: 4) == 0x0008_1B36)
        #expect(bus.configRead(device: 0, function: 0, offset: 8, size: 4) >> 8 == 0x06_00_00)
        #expect(bus.configRead(device: 0, function: 1, offset: 0, size: 4) == 0xFFFF_FFFF)
        #expect(bus.configRead(device: 5, function: 0, offset: 0, size: 2) == 0xFFFF)
        #expect(bus.configRead(device: 99, function: 0, offset: 0, size: 1) == 0xFF)
        bus.configWrite(device: 5, function: 0, offset: 4, size: 2, value: 6)  // vanishes
        #expect(throws: PCIBusError.slotTaken(0, "host bridge")) { try bus.insert(PCIHostBridge(), slot: 0) }
        #expect(throws: PCIBusError.slotInvalid(32)) { try bus.insert(PCIHostBridge(), slot: 32) }
    }

    @Test func ecamAndPortsAgree() throws {
        let bus = makeBus()
        try bus.insert(PCIHostBridge(), slot: 0)
        try bus.insert(PCITestDevice(bars: [PCIBAR(index: 0, size: 0x8000, kind: .memory64)]), slot: 3)
        let ports = PCIConfigPorts(bus: bus)
        let ecam = PCIECAM(bus: bus)
        func viaPorts(_ device: Int, _ offset: Int, _ size: Int) -> UInt64 {
            ports.write(offset: 0, size: 4, value: UInt64(0x8000_0000 | device << 11 | offset & 0xFC))
            return ports.read(offset: 4 + UInt64(offset & 3), size: size)
        }
        func viaECAM(_ device: Int, _ offset: Int, _ size: Int) -> UInt64 {
            ecam.read(offset: UInt64(device << 15 | offset), size: size)
        }
        for device in [0, 3, 7] {
            for offset in stride(from: 0, to: 0x100, by: 4) {
                #expect(viaPorts(device, offset, 4) == viaECAM(device, offset, 4))
            }
            #expect(viaPorts(device, 2, 2) == viaECAM(device, 2, 2))
            #expect(viaPorts(device, 0x0B, 1) == viaECAM(device, 0x0B, 1))
        }
        // A write through one path is seen through the other.
        ecam.write(offset: 3 << 15 | 0x3C, size: 1, value: 9)
        #expect(viaPorts(3, 0x3C, 1) == 9)
        ports.write(offset: 0, size: 4, value: 0x8000_0000 | 3 << 11 | 0x3C)
        ports.write(offset: 4, size: 1, value: 10)
        #expect(viaECAM(3, 0x3C, 1) == 10)
        // The address register reads back; without the enable bit data reads all ones.
        ports.write(offset: 0, size: 4, value: 0x0000_1800)
        #expect(ports.read(offset: 0, size: 4) == 0x0000_1800)
        #expect(ports.read(offset: 4, size: 4) == 0xFFFF_FFFF)
        // Another bus, an unaligned ECAM access, a data access crossing the dword: all ones.
        ports.write(offset: 0, size: 4, value: 0x8001_0000)
        #expect(ports.read(offset: 4, size: 4) == 0xFFFF_FFFF)
        ports.write(offset: 0, size: 4, value: 0x8000_0000)
        #expect(ports.read(offset: 6, size: 4) == 0xFFFF_FFFF)
        #expect(ecam.read(offset: 1, size: 2) == 0xFFFF)
        #expect(ecam.read(offset: 0x10_0000, size: 4) == 0xFFFF_FFFF)
        #expect(ecam.read(offset: 0, size: 8) == 0x0000_0000_0008_1B36 | viaECAM(0, 4, 4) << 32)
    }

    @Test func insertionAssignsAlignedBARsAndMapsThem() throws {
        let bus = makeBus()
        let small = try PCITestDevice(name: "small", bars: [PCIBAR(index: 1, size: 0x1000, kind: .memory32)])
        let big = try PCITestDevice(name: "big", bars: [
            PCIBAR(index: 0, size: 0x8000, kind: .memory64), PCIBAR(index: 2, size: 0x10_0000, kind: .memory32),
        ])
        try bus.insert(small, slot: 1)
        try bus.insert(big, slot: 2)
        var bases: [UInt64] = []
        for (slot, bar, size) in [(1, 1, 0x1000), (2, 0, 0x8000), (2, 2, 0x10_0000)] as [(Int, Int, UInt64)] {
            let base = try #require(bus.barAddress(slot: slot, bar: bar))
            #expect(base % size == 0 && base >= 0xC000_0000 && base + size <= 0xE000_0000)
            bases.append(base)
        }
        #expect(Set(bases).count == 3)
        #expect(big.configuration.memorySpaceEnabled && big.configuration.busMasterEnabled)
        #expect(recorded().count == 3 && recorded().allSatisfy { $0.old == nil && $0.new != nil })
        // The window forwards with BAR-relative offsets.
        #expect(mmio.read(at: bases[1] + 0x3004, size: 2) == 0xAB)
        mmio.write(at: bases[2] + 0x10, size: 8, value: 77)
        #expect(big.accesses == [
            .init(bar: 0, offset: 0x3004, size: 2, value: nil), .init(bar: 2, offset: 0x10, size: 8, value: 77),
        ])
    }

    @Test func movingABARMovesItsWindow() throws {
        let bus = makeBus()
        let device = try PCITestDevice(bars: [PCIBAR(index: 0, size: 0x8000, kind: .memory64)])
        try bus.insert(device, slot: 4)
        let old = try #require(bus.barAddress(slot: 4, bar: 0))
        changes.withLock { $0.removeAll() }

        bus.configWrite(device: 4, function: 0, offset: 0x10, size: 4, value: 0xD000_0000)
        #expect(bus.barAddress(slot: 4, bar: 0) == 0xD000_0000)
        #expect(recorded() == [PCIBARChange(slot: 4, bar: 0, size: 0x8000, old: old, new: 0xD000_0000)])
        #expect(mmio.window(containing: old) == nil)
        #expect(mmio.read(at: 0xD000_0008, size: 4) == 0xAB)
        #expect(device.accesses.last == .init(bar: 0, offset: 8, size: 4, value: nil))

        // Memory decoding off removes the window; on restores it.
        changes.withLock { $0.removeAll() }
        bus.configWrite(device: 4, function: 0, offset: 4, size: 2, value: 0x4)
        #expect(bus.barAddress(slot: 4, bar: 0) == nil)
        #expect(mmio.window(containing: 0xD000_0000) == nil)
        bus.configWrite(device: 4, function: 0, offset: 4, size: 2, value: 0x6)
        #expect(recorded() == [
            PCIBARChange(slot: 4, bar: 0, size: 0x8000, old: 0xD000_0000, new: nil),
            PCIBARChange(slot: 4, bar: 0, size: 0x8000, old: nil, new: 0xD000_0000),
        ])

        // Probing the size (all ones in both halves) unmaps; outside the hole stays unmapped.
        bus.configWrite(device: 4, function: 0, offset: 0x10, size: 4, value: 0xFFFF_FFFF)
        bus.configWrite(device: 4, function: 0, offset: 0x14, size: 4, value: 0xFFFF_FFFF)
        #expect(bus.barAddress(slot: 4, bar: 0) == nil)
        bus.configWrite(device: 4, function: 0, offset: 0x14, size: 4, value: 0)
        bus.configWrite(device: 4, function: 0, offset: 0x10, size: 4, value: 0x8000_0000)
        #expect(bus.barAddress(slot: 4, bar: 0) == nil)
        bus.configWrite(device: 4, function: 0, offset: 0x10, size: 4, value: 0xDFFF_8000)
        #expect(bus.barAddress(slot: 4, bar: 0) == 0xDFFF_8000)
    }

    @Test func aBAROverAnotherWindowIsNotMapped() throws {
        let bus = makeBus()
        let a = try PCITestDevice(name: "a", bars: [PCIBAR(index: 0, size: 0x1000, kind: .memory32)])
        let b = try PCITestDevice(name: "b", bars: [PCIBAR(index: 0, size: 0x1000, kind: .memory32)])
        try bus.insert(a, slot: 1)
        try bus.insert(b, slot: 2)
        let aBase = try #require(bus.barAddress(slot: 1, bar: 0))
        let bBase = try #require(bus.barAddress(slot: 2, bar: 0))
        bus.configWrite(device: 2, function: 0, offset: 0x10, size: 4, value: UInt32(aBase))
        #expect(bus.barAddress(slot: 2, bar: 0) == nil)
        #expect(bus.barAddress(slot: 1, bar: 0) == aBase)
        _ = mmio.read(at: aBase, size: 4)
        #expect(a.accesses.count == 1 && b.accesses.isEmpty)
        // Once a moves away, b gets the place.
        bus.configWrite(device: 1, function: 0, offset: 0x10, size: 4, value: UInt32(bBase))
        #expect(bus.barAddress(slot: 1, bar: 0) == bBase)
        #expect(bus.barAddress(slot: 2, bar: 0) == aBase)
    }

    @Test func resetRestoresTheAssignment() throws {
        let bus = makeBus()
        let device = try PCITestDevice(bars: [PCIBAR(index: 0, size: 0x1000, kind: .memory32)])
        try bus.insert(device, slot: 1)
        let base = try #require(bus.barAddress(slot: 1, bar: 0))
        bus.configWrite(device: 1, function: 0, offset: 0x10, size: 4, value: 0xD000_0000)
        bus.configWrite(device: 1, function: 0, offset: 0x3C, size: 1, value: 5)
        bus.reset()
        #expect(bus.barAddress(slot: 1, bar: 0) == base)
        #expect(device.configuration.read(offset: 0x3C, size: 1) == 0)
        #expect(device.configuration.memorySpaceEnabled)
        #expect(mmio.window(containing: 0xD000_0000) == nil)
    }

    @Test func theWindowRunsOut() throws {
        let bus = makeBus()
        try bus.insert(try PCITestDevice(bars: [PCIBAR(index: 0, size: 0x1000_0000, kind: .memory32)]))
        try bus.insert(try PCITestDevice(bars: [PCIBAR(index: 0, size: 0x1000_0000, kind: .memory32)]))
        #expect(throws: PCIBusError.outOfMMIOSpace("test", bar: 0, size: 0x1000)) {
            try bus.insert(try PCITestDevice(bars: [PCIBAR(index: 0, size: 0x1000, kind: .memory32)]))
        }
    }
}
