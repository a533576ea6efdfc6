import Synchronization

/// A map from address windows to devices: one for port I/O, one for MMIO.
///
/// An access that hits no device is not an error: real buses float high on reads and drop
/// writes, and Linux probes plenty of ports that nothing answers. `unclaimed` hears about
/// them so that `--verbose` can trace them.
public final class Bus: Sendable {
    public struct Window: Sendable {
        public let base: UInt64
        public let size: UInt64
        public let device: any BusDevice
        public let name: String
    }

    private let windows = Mutex<[Window]>([])
    private let unclaimed: @Sendable (_ address: UInt64, _ size: Int, _ write: UInt64?) -> Void

    /// `unclaimed` is told of accesses no device claims: address, size and, for a write, the value.
    public init(unclaimed: @escaping @Sendable (UInt64, Int, UInt64?) -> Void = { _, _, _ in }) {
        self.unclaimed = unclaimed
    }

    public enum InsertError: Error, CustomStringConvertible {
        case overlap(String, String)
        public var description: String {
            switch self { case .overlap(let a, let b): "bus windows of \(a) and \(b) overlap" }
        }
    }

    /// Claims [base, base + size) for `device`. Overlaps are a machine-builder bug.
    public func insert(_ device: any BusDevice, at base: UInt64, size: UInt64, name: String) throws(InsertError) {
        try windows.withLock { (list: inout [Window]) throws(InsertError) in
            if let clash = list.first(where: { base < $0.base + $0.size && $0.base < base + size }) {
                throw .overlap(clash.name, name)
            }
            list.append(Window(base: base, size: size, device: device, name: name))
            list.sort { $0.base < $1.base }
        }
    }

    /// Removes the window at `base` (a PCI BAR that moved, for instance).
    public func remove(at base: UInt64) {
        windows.withLock { $0.removeAll { $0.base == base } }
    }

    /// Removes every window: the end of a machine. Devices may hold the bus they sit on
    /// (PCI's ECAM holds the PCI bus, which holds the MMIO bus for its BAR windows), so
    /// the owner empties it to let them go.
    public func removeAll() {
        windows.withLock { $0.removeAll() }
    }

    /// The window holding `address`, if any.
    public func window(containing address: UInt64) -> Window? {
        windows.withLock { list in list.first { address >= $0.base && address - $0.base < $0.size } }
    }

    /// Dispatches a guest read; unclaimed reads see all ones, as on a real bus.
    public func read(at address: UInt64, size: Int) -> UInt64 {
        guard let window = window(containing: address) else {
            unclaimed(address, size, nil)
            return size >= 8 ? UInt64.max : (UInt64(1) << (UInt64(size) * 8)) - 1
        }
        return window.device.read(offset: address - window.base, size: size)
    }

    /// Dispatches a guest write; unclaimed writes vanish.
    public func write(at address: UInt64, size: Int, value: UInt64) {
        guard let window = window(containing: address) else {
            unclaimed(address, size, value)
            return
        }
        window.device.write(offset: address - window.base, size: size, value: value)
    }
}
