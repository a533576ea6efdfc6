/// Mistakes in building a device's configuration space. These are machine-builder bugs,
/// never guest input: the guest can only write through the masks.
public enum PCIConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
    case barIndexInvalid(Int)
    case barSizeInvalid(index: Int, size: UInt64)
    case barInUse(Int)
    case noRoomForCapability(id: UInt8, length: Int)
    case msixVectorCountInvalid(Int)
    /// A snapshot's configuration space or MSI-X state has the wrong shape for this device.
    case stateMismatch(String)

    public var description: String {
        switch self {
        case .barIndexInvalid(let index):
            return "PCI BAR \(index) does not exist (0...5, a 64-bit BAR uses two)"
        case .barSizeInvalid(let index, let size):
            return "PCI BAR \(index) size 0x\(String(size, radix: 16)) is not a power of two in range"
        case .barInUse(let index):
            return "PCI BAR \(index) is declared twice"
        case .noRoomForCapability(let id, let length):
            return "PCI capability 0x\(String(id, radix: 16)) of \(length) bytes does not fit in config space"
        case .msixVectorCountInvalid(let count):
            return "MSI-X vector count \(count) is not in 1...2048"
        case .stateMismatch(let detail):
            return "PCI snapshot state does not fit this device: \(detail)"
        }
    }
}
