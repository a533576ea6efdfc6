/// Where the initrd goes: as high as it can, like GRUB and QEMU put it, so it stays out
/// of the kernel's way while the kernel decompresses and sets up its memory. The guest
/// contract: the highest page-aligned address whose end is at or below
/// min(initrd_addr_max + 1, top of RAM below the hole), not overlapping the kernel.
public struct InitrdPlacement: Equatable, Sendable {
    public let size: UInt64
    /// The initrd must end at or below this.
    public let ceiling: UInt64
    /// Memory the kernel occupies (or needs while it starts up).
    public let kernel: Range<UInt64>

    public init(size: UInt64, initrdAddressMax: UInt32, ramTopBelow4G: UInt64, kernel: Range<UInt64>) {
        self.size = size
        ceiling = min(UInt64(initrdAddressMax) + 1, ramTopBelow4G).alignedDown(to: BootLayout.pageSize)
        self.kernel = kernel
    }

    /// The load address, or nil when no place between 1 MiB and the ceiling fits it.
    public var address: UInt64? {
        guard let highest = placement(endingAt: ceiling) else { return nil }
        if !(highest..<(highest + size)).overlaps(kernel) { return highest }
        // Under the kernel, then: a small initrd may still fit in the gap below it.
        return placement(endingAt: min(kernel.lowerBound, ceiling))
    }

    private func placement(endingAt end: UInt64) -> UInt64? {
        guard end >= size else { return nil }
        let start = (end - size).alignedDown(to: BootLayout.pageSize)
        return start >= BootLayout.highMemoryStart ? start : nil
    }
}
