/// The Multiple APIC Description Table ("APIC", ACPI 6.5 §5.2.12) of a PC with KVM's
/// in-kernel IOAPIC: one Local APIC per vCPU, one IOAPIC, IRQ0 routed to GSI 2 as on
/// every PC since the 8259s were cascaded, and LINT1 as NMI.
public struct MADT: Sendable, Equatable {
    public static let revision: UInt8 = 5
    public static let localAPICAddress: UInt32 = 0xFEE0_0000
    public static let ioAPICAddress: UInt32 = 0xFEC0_0000
    /// The IOAPIC's ID, as KVM's IOAPIC starts with it (the MP table says the same).
    public static let ioAPICID: UInt8 = 0
    /// Flags: PCAT_COMPAT, dual 8259s are present (KVM emulates them).
    public static let pcatCompat: UInt32 = 1

    /// Entry types (Table 5.21).
    public enum EntryType: UInt8 {
        case localAPIC = 0
        case ioAPIC = 1
        case interruptSourceOverride = 2
        case localAPICNMI = 4
    }

    public var cpuCount: Int

    public init(cpuCount: Int) {
        self.cpuCount = cpuCount
    }

    public func table() -> ACPITable {
        var body: [UInt8] = []
        body.append(le: MADT.localAPICAddress)
        body.append(le: MADT.pcatCompat)
        for index in 0..<cpuCount {
            // Processor Local APIC (§5.2.12.2): UID and APIC ID both the vCPU index; enabled.
            body += [EntryType.localAPIC.rawValue, 8, UInt8(truncatingIfNeeded: index), UInt8(truncatingIfNeeded: index)]
            body.append(le: UInt32(1))
        }
        // I/O APIC (§5.2.12.3): ID 0, GSI base 0.
        body += [EntryType.ioAPIC.rawValue, 12, MADT.ioAPICID, 0]
        body.append(le: MADT.ioAPICAddress)
        body.append(le: UInt32(0))
        // Interrupt Source Override (§5.2.12.5): ISA IRQ 0 -> GSI 2, bus-conforming polarity/trigger.
        body += [EntryType.interruptSourceOverride.rawValue, 10, 0, 0]
        body.append(le: UInt32(2))
        body.append(le: UInt16(0))
        // Local APIC NMI (§5.2.12.7): all processors (UID 0xFF), LINT1.
        body += [EntryType.localAPICNMI.rawValue, 6, 0xFF]
        body.append(le: UInt16(0))
        body.append(1)
        return ACPITable(signature: "APIC", revision: MADT.revision, body: body)
    }
}
