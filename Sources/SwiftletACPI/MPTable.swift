/// The Intel MultiProcessor table (MP Specification 1.4, chapter 4): how a guest booted
/// with `acpi=off` finds its CPUs, its IOAPIC and which pin each interrupt arrives on.
/// Not ACPI, but the same facts as the MADT, so it is built here beside it and agrees
/// with it: one processor per vCPU (APIC ID = index, the first the BSP), the IOAPIC at
/// `MADT.ioAPICAddress` with `MADT.ioAPICID`, ISA IRQ 0 on pin 2 as the MADT's override
/// says, the 8259's output on pin 0 (ExtINT) and LINT0/LINT1 wired as ExtINT/NMI.
///
/// Device pins (virtio-mmio's) are listed as ISA interrupts whose IRQ is the pin number,
/// edge-triggered and active-high: Linux then maps each to the IRQ of the same number,
/// the one `virtio_mmio.device=...:<irq>` names.
///
/// The floating pointer comes first, the configuration table right after it, so the
/// whole blob goes where Linux looks (the last KiB of base memory, `defaultBase`).
public struct MPTable: Sendable, Equatable {
    /// The last KiB of conventional memory (639 KiB), which Linux scans and e820 reserves.
    public static let defaultBase: UInt64 = 0x9_FC00
    /// Room up to the ACPI tables at 0xE0000, all reserved in e820: 255 vCPUs need 5 KiB.
    public static let defaultLimit = 0xE_0000 - 0x9_FC00
    /// Spec revision 1.4.
    public static let specRevision: UInt8 = 4
    /// KVM's IOAPIC and local APIC versions (what their version registers read).
    public static let ioAPICVersion: UInt8 = 0x11
    public static let localAPICVersion: UInt8 = 0x14
    /// Pins of KVM's IOAPIC.
    public static let ioAPICPins = 24
    static let floatingPointerSize = 16
    static let headerSize = 44

    /// Entry types (§4.3) and interrupt types (Table 4-8).
    public enum EntryType: UInt8 {
        case processor = 0, bus = 1, ioAPIC = 2, ioInterrupt = 3, localInterrupt = 4
    }
    public enum InterruptType: UInt8 {
        case int = 0, nmi = 1, smi = 2, extINT = 3
    }
    /// Polarity bits 1:0 and trigger bits 3:2 (Table 4-10): 0 conforms to the bus (ISA:
    /// edge, active-high); edge and active-high said outright.
    public static let conforming: UInt16 = 0
    public static let edgeActiveHigh: UInt16 = 0b0101
    static let isaBusID: UInt8 = 0

    public var cpuCount: Int
    /// IOAPIC pins of edge-triggered devices beyond the PC's own (virtio-mmio's).
    public var devicePins: [UInt8]

    public init(cpuCount: Int, devicePins: [UInt8] = []) {
        self.cpuCount = cpuCount
        self.devicePins = devicePins
    }

    /// The floating pointer and configuration table for guest-physical `base`.
    public func build(at base: UInt64 = MPTable.defaultBase, limit: Int = MPTable.defaultLimit) throws(ACPIError) -> [UInt8] {
        guard (1...ACPITables.maximumCPUs).contains(cpuCount) else { throw .cpuCount(cpuCount) }
        if let pin = devicePins.first(where: { Int($0) >= Self.ioAPICPins }) { throw .interruptPin(pin) }
        let (entries, count) = configurationEntries()
        var table: [UInt8] = Array("PCMP".utf8)
        table.append(le: UInt16(Self.headerSize + entries.count))
        table += [Self.specRevision, 0]  // checksum patched below
        table.append(ascii: "SWIFTLET", width: 8)
        table.append(ascii: "SWIFTLET VM", width: 12)
        table.append(le: UInt32(0))  // no OEM table
        table.append(le: UInt16(0))
        table.append(le: UInt16(count))
        table.append(le: MADT.localAPICAddress)
        table.append(le: UInt16(0))  // no extended table
        table += [0, 0]  // extended checksum, reserved
        table += entries
        table[7] = ACPIChecksum.fix(table)

        let size = Self.floatingPointerSize + table.count
        guard size <= limit else { throw .tooLarge(size: size, limit: limit) }
        var pointer: [UInt8] = Array("_MP_".utf8)
        pointer.append(le: UInt32(truncatingIfNeeded: base + UInt64(Self.floatingPointerSize)))
        // Length in 16-byte units, revision, checksum; feature byte 1 = 0 (a table is
        // present), feature byte 2 = 0 (no IMCR: virtual wire mode), three reserved.
        pointer += [1, Self.specRevision, 0, 0, 0, 0, 0, 0]
        pointer[10] = ACPIChecksum.fix(pointer)
        return pointer + table
    }

    /// The entries in the order §4.3 wants them (by type) and how many there are.
    private func configurationEntries() -> (bytes: [UInt8], count: Int) {
        var bytes: [UInt8] = []
        var count = 0
        for index in 0..<cpuCount {
            // CPU flags: enabled (bit 0), bootstrap processor (bit 1).
            bytes += [EntryType.processor.rawValue, UInt8(index), Self.localAPICVersion, index == 0 ? 3 : 1]
            bytes.append(le: UInt32(0x600))  // family 6; Linux reads CPUID instead
            bytes.append(le: UInt32(1 << 0 | 1 << 9))  // FPU, APIC
            bytes += [UInt8](repeating: 0, count: 8)
            count += 1
        }
        bytes += [EntryType.bus.rawValue, Self.isaBusID]
        bytes.append(ascii: "ISA", width: 6)
        count += 1
        bytes += [EntryType.ioAPIC.rawValue, MADT.ioAPICID, Self.ioAPICVersion, 1]  // enabled
        bytes.append(le: MADT.ioAPICAddress)
        count += 1
        for (irq, pin, type, flags) in interruptAssignments() {
            bytes += [EntryType.ioInterrupt.rawValue, type.rawValue]
            bytes.append(le: flags)
            bytes += [Self.isaBusID, irq, MADT.ioAPICID, pin]
            count += 1
        }
        for (type, lint) in [(InterruptType.extINT, UInt8(0)), (.nmi, 1)] {
            bytes += [EntryType.localInterrupt.rawValue, type.rawValue]
            bytes.append(le: Self.conforming)
            bytes += [Self.isaBusID, 0, 0xFF, lint]  // every local APIC
            count += 1
        }
        return (bytes, count)
    }

    /// (source IRQ, IOAPIC pin, type, flags) of each I/O interrupt entry: the 8259 on pin
    /// 0, ISA IRQs 0-15 (IRQ 0 on pin 2, the cascade IRQ 2 nowhere), device pins.
    func interruptAssignments() -> [(irq: UInt8, pin: UInt8, type: InterruptType, flags: UInt16)] {
        var list: [(UInt8, UInt8, InterruptType, UInt16)] = [(0, 0, .extINT, Self.conforming)]
        let irqs = Set((0..<16).filter { $0 != 2 }.map(UInt8.init)).union(devicePins).sorted()
        for irq in irqs {
            let flags = devicePins.contains(irq) ? Self.edgeActiveHigh : Self.conforming
            list.append((irq, irq == 0 ? 2 : irq, .int, flags))
        }
        return list
    }
}
