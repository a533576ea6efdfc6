/// A device that answers reads and writes in a window of port or MMIO space.
///
/// Devices see offsets from the start of their window, never absolute ports or
/// addresses, so the same 8250 could sit at 0x3f8 or 0x2f8. Accesses are 1, 2, 4 or 8
/// bytes, little-endian, as KVM reports them. Calls may come from any vCPU thread at
/// once: a device guards its own state.
public protocol BusDevice: AnyObject, Sendable {
    /// The value the guest reads; bits beyond `size` bytes are ignored.
    func read(offset: UInt64, size: Int) -> UInt64
    /// A guest write of the low `size` bytes of `value`.
    func write(offset: UInt64, size: Int, value: UInt64)
}
