/// Why a set of ACPI tables cannot be built. Each description is the line the user sees.
public enum ACPIError: Error, Equatable, CustomStringConvertible {
    /// xAPIC Local APIC entries hold an 8-bit APIC ID and 0xFF is the broadcast ID.
    case cpuCount(Int)
    /// The blob does not fit in the space the machine set aside for it.
    case tooLarge(size: Int, limit: Int)
    /// A device interrupt on a pin the IOAPIC does not have.
    case interruptPin(UInt8)

    public var description: String {
        switch self {
        case .cpuCount(let count):
            return "ACPI: \(count) vCPUs is outside 1...\(ACPITables.maximumCPUs) (xAPIC IDs are 8 bits, 0xFF is broadcast)"
        case .tooLarge(let size, let limit):
            return "ACPI: tables need \(size) bytes but only \(limit) are reserved for them"
        case .interruptPin(let pin):
            return "firmware tables: IOAPIC pin \(pin) does not exist (it has \(MPTable.ioAPICPins))"
        }
    }
}
