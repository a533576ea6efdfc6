import Synchronization

/// Configuration mechanism #1 (PCI 3.0 section 3.2.2.3.2): the address register at port
/// 0xCF8 and the data window at 0xCFC...0xCFF. Insert it on the port bus at 0xCF8, size 8.
///
/// Only 32-bit accesses reach the address register, as on real chipsets (byte accesses to
/// 0xCF8...0xCFB belong to other registers, 0xCF9 being the reset control on Intel parts;
/// we have none, so they read all ones and vanish).
public final class PCIConfigPorts: BusDevice {
    public static let basePort: UInt64 = 0xCF8
    public static let windowSize: UInt64 = 8
    static let enableBit: UInt32 = 1 << 31

    private let bus: PCIBus
    private let address = Mutex<UInt32>(0)

    public init(bus: PCIBus) { self.bus = bus }

    public func read(offset: UInt64, size: Int) -> UInt64 {
        if offset == 0 && size == 4 { return UInt64(address.withLock { $0 }) }
        guard let target = target(offset: offset, size: size) else { return Self.allOnes(size) }
        return UInt64(bus.configRead(device: target.device, function: target.function, offset: target.register, size: size))
    }

    public func write(offset: UInt64, size: Int, value: UInt64) {
        if offset == 0 && size == 4 {
            // Bits 1:0 are read-only zero; bits 30:24 reserved.
            address.withLock { $0 = UInt32(truncatingIfNeeded: value) & 0x80FF_FFFC }
            return
        }
        guard let target = target(offset: offset, size: size) else { return }
        bus.configWrite(
            device: target.device, function: target.function, offset: target.register, size: size,
            value: UInt32(truncatingIfNeeded: value))
    }

    /// Decodes the address register for a data access at port offset `offset` (4...7).
    private func target(offset: UInt64, size: Int) -> (device: Int, function: Int, register: Int)? {
        guard offset >= 4, size == 1 || size == 2 || size == 4, offset - 4 + UInt64(size) <= 4 else { return nil }
        let value = address.withLock { $0 }
        guard value & Self.enableBit != 0, (value >> 16) & 0xFF == 0 else { return nil }
        return (Int((value >> 11) & 0x1F), Int((value >> 8) & 0x7), Int(value & 0xFC) + Int(offset - 4))
    }

    static func allOnes(_ size: Int) -> UInt64 {
        size >= 8 ? UInt64.max : (UInt64(1) << UInt64(max(size, 0) * 8)) &- 1
    }
}
