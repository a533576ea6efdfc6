/// A PCI function on Swiftlet's bus 0.
///
/// The bus reaches it only through these calls: configuration space (from port 0xCF8/0xCFC
/// or ECAM) and BAR accesses (from the MMIO windows the bus maps). Calls come from any
/// vCPU thread at once: a device guards its own state. Offsets are always relative (to
/// config space, to the BAR), never absolute addresses.
public protocol PCIDevice: AnyObject, Sendable {
    /// For bus windows and logs ("virtio-blk", "host bridge").
    var name: String { get }
    /// A snapshot of the configuration space: BAR declarations and sizes, BAR addresses,
    /// the command register. The bus reads it to decide what to map.
    var configuration: PCIConfigurationSpace { get }
    /// A guest read of 1, 2 or 4 bytes of configuration space.
    func configRead(offset: Int, size: Int) -> UInt32
    /// A guest write of 1, 2 or 4 bytes; returns what changed (see `PCIConfigurationSpace.write`).
    func configWrite(offset: Int, size: Int, value: UInt32) -> PCIConfigurationSpace.Changes
    /// A read of 1, 2, 4 or 8 bytes at `offset` inside BAR `bar`.
    func barRead(bar: Int, offset: UInt64, size: Int) -> UInt64
    /// A write of the low `size` bytes of `value` at `offset` inside BAR `bar`.
    func barWrite(bar: Int, offset: UInt64, size: Int, value: UInt64)
    /// A function-level reset: configuration space back to power-on (BARs unassigned,
    /// decoding off) and all device state cleared. The bus then reassigns BARs.
    func reset()
}

extension PCIDevice {
    /// The declared BARs, with their sizes.
    public var bars: [PCIBAR] { configuration.bars }
}
