/// Where RAM goes in the guest-physical address space of an x86 PC.
///
/// RAM starts at 0. The last gigabyte below 4 GiB is a hole kept for device MMIO (PCI
/// BARs, ECAM, the IOAPIC at 0xfec00000, the local APIC at 0xfee00000), so RAM that would
/// reach it continues above 4 GiB instead.
public enum X86MemoryMap {
    /// First byte of the MMIO hole below 4 GiB.
    public static let mmioHoleStart: UInt64 = 0xC000_0000
    /// One past the hole: RAM resumes here.
    public static let mmioHoleEnd: UInt64 = 0x1_0000_0000

    /// The guest-physical RAM ranges for `ramSize` bytes of RAM.
    public static func ramRanges(size ramSize: UInt64) -> [(start: UInt64, size: UInt64)] {
        if ramSize <= mmioHoleStart { return [(0, ramSize)] }
        return [(0, mmioHoleStart), (mmioHoleEnd, ramSize - mmioHoleStart)]
    }
}
