import Testing
import SwiftletACPI
@testable import SwiftletMachine

/// Where virtio-mmio devices go and what the guest is told of them, without KVM.
@Suite struct MMIOSlotsTests {
    @Test func windowsArePagesFromF0000000WithAPinEach() throws {
        var slots = MMIOSlots()
        let console = try slots.place("console")
        let disk = try slots.place("disk")
        #expect(console == MMIOSlots.Slot(name: "console", base: 0xF000_0000, pin: 5))
        #expect(disk == MMIOSlots.Slot(name: "disk", base: 0xF000_1000, pin: 6))
        #expect(slots.interruptPins == [5, 6])
        #expect(slots.kernelArguments == ["virtio_mmio.device=0x200@0xf0000000:5", "virtio_mmio.device=0x200@0xf0001000:6"])
        #expect(slots.dsdtDevices == [
            AMLDevices.virtioMMIO(index: 0, base: 0xF000_0000, size: 0x200, gsi: 5),
            AMLDevices.virtioMMIO(index: 1, base: 0xF000_1000, size: 0x200, gsi: 6),
        ])
    }

    /// The pool: fifteen pins that no legacy device uses, distinct; the windows stay below
    /// the IOAPIC and clear of PCI's ECAM and BAR window.
    @Test func thePoolAvoidsLegacyPinsAndTheLimitIsOneClearError() throws {
        let legacy: Set<UInt8> = [0, 1, 2, 3, 4, 8, 9, 12, 13]
        #expect(MMIOSlots.limit == 15)
        #expect(Set(MMIOSlots.pins).count == MMIOSlots.pins.count)
        #expect(MMIOSlots.pins.allSatisfy { !legacy.contains($0) && $0 < 24 })
        var slots = MMIOSlots()
        for index in 0..<MMIOSlots.limit { _ = try slots.place("device \(index)") }
        let last = try #require(slots.slots.last)
        #expect(last.base + MMIOSlots.windowSize <= 0xFEC0_0000)
        #expect(slots.slots.allSatisfy { $0.base >= 0xE000_0000 + (256 << 20) })
        let error = #expect(throws: MMIODeviceError.self) { try slots.place("virtio rng") }
        #expect(error?.description.hasPrefix("virtio-mmio: no interrupt pin left for virtio rng: at most 15 devices") == true)
        #expect(slots.slots.count == 15)
        // The MP table takes all fifteen.
        #expect(throws: Never.self) { try MPTable(cpuCount: 4, devicePins: slots.interruptPins).build() }
    }

    /// One discovery method per boot: the command line only when ACPI is off, and the last
    /// `acpi=` word decides, as in Linux.
    @Test func acpiOffIsTheLastAcpiWord() {
        #expect(MMIOSlots.guestIgnoresACPI(["console=hvc0", "acpi=off"]))
        #expect(!MMIOSlots.guestIgnoresACPI(["console=hvc0"]))
        #expect(!MMIOSlots.guestIgnoresACPI(["acpi=off", "acpi=force"]))
        #expect(MMIOSlots.guestIgnoresACPI(["acpi=noirq", "acpi=off"]))
        #expect(!MMIOSlots.guestIgnoresACPI(["noacpi=off", "xacpi=off"]))
    }
}
