/// The PCI Express enhanced configuration access mechanism (PCIe 4.0 section 7.2.2) for
/// bus 0: 1 MiB of MMIO where offset = device << 15 | function << 12 | register.
/// Insert it on the MMIO bus at `baseAddress` (listed in the ACPI MCFG).
public final class PCIECAM: BusDevice {
    public static let baseAddress: UInt64 = 0xE000_0000
    /// One bus: 32 devices x 8 functions x 4 KiB.
    public static let windowSize: UInt64 = 0x10_0000

    private let bus: PCIBus

    public init(bus: PCIBus) { self.bus = bus }

    public func read(offset: UInt64, size: Int) -> UInt64 {
        if size == 8 {
            // Two dword reads; aligned only, like the rest.
            guard offset % 8 == 0 else { return UInt64.max }
            return read(offset: offset, size: 4) | read(offset: offset + 4, size: 4) << 32
        }
        guard let target = Self.decode(offset: offset, size: size) else { return PCIConfigPorts.allOnes(size) }
        return UInt64(bus.configRead(device: target.device, function: target.function, offset: target.register, size: size))
    }

    public func write(offset: UInt64, size: Int, value: UInt64) {
        if size == 8 {
            guard offset % 8 == 0 else { return }
            write(offset: offset, size: 4, value: value & 0xFFFF_FFFF)
            write(offset: offset + 4, size: 4, value: value >> 32)
            return
        }
        guard let target = Self.decode(offset: offset, size: size) else { return }
        bus.configWrite(
            device: target.device, function: target.function, offset: target.register, size: size,
            value: UInt32(truncatingIfNeeded: value))
    }

    /// Naturally aligned 1, 2 or 4-byte accesses inside the window; others are dropped.
    static func decode(offset: UInt64, size: Int) -> (device: Int, function: Int, register: Int)? {
        guard size == 1 || size == 2 || size == 4, offset < windowSize, offset % UInt64(size) == 0 else { return nil }
        return (Int(offset >> 15) & 0x1F, Int(offset >> 12) & 0x7, Int(offset & 0xFFF))
    }
}
