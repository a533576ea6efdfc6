/// A BAR's mapping on the MMIO bus changed: the machine moves anything it attached to the
/// BAR's addresses (KVM ioeventfds on virtio notify registers) from `old` to `new`.
public struct PCIBARChange: Sendable, Equatable {
    public let slot: Int
    public let bar: Int
    public let size: UInt64
    /// Where the BAR was mapped, nil if it was not.
    public let old: UInt64?
    /// Where it is mapped now, nil if it is not (decoding off, moved out of the window,
    /// overlapping another window, or mid size-probe).
    public let new: UInt64?

    public init(slot: Int, bar: Int, size: UInt64, old: UInt64?, new: UInt64?) {
        self.slot = slot
        self.bar = bar
        self.size = size
        self.old = old
        self.new = new
    }
}
