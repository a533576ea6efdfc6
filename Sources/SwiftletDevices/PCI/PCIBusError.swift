/// Mistakes in populating the PCI bus: machine-builder bugs or too many devices.
public enum PCIBusError: Error, Equatable, Sendable, CustomStringConvertible {
    case slotInvalid(Int)
    case slotTaken(Int, String)
    case busFull
    case outOfMMIOSpace(String, bar: Int, size: UInt64)

    public var description: String {
        switch self {
        case .slotInvalid(let slot):
            return "PCI slot \(slot) does not exist on bus 0 (0...31)"
        case .slotTaken(let slot, let name):
            return "PCI slot \(slot) is already taken by \(name)"
        case .busFull:
            return "PCI bus 0 has no free slot (32 devices)"
        case .outOfMMIOSpace(let name, let bar, let size):
            return "PCI BAR \(bar) of \(name) (0x\(String(size, radix: 16)) bytes) does not fit in the MMIO window"
        }
    }
}
