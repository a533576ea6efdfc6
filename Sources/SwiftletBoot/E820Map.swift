/// One range of the BIOS e820 memory map as boot_params carries it: struct boot_e820_entry
/// (u64 addr, u64 size, u32 type), packed into 20 bytes.
public struct E820Entry: Equatable, Sendable {
    public enum Kind: UInt32, Sendable {
        case ram = 1
        case reserved = 2
        case acpi = 3
        case nvs = 4
        case unusable = 5
    }

    public var address: UInt64
    public var size: UInt64
    public var kind: Kind

    public init(address: UInt64, size: UInt64, kind: Kind) {
        self.address = address
        self.size = size
        self.kind = kind
    }

    public static let encodedSize = 20

    var encoded: [UInt8] {
        var bytes = [UInt8](repeating: 0, count: Self.encodedSize)
        bytes.store(address, at: 0)
        bytes.store(size, at: 8)
        bytes.store(kind.rawValue, at: 16)
        return bytes
    }
}

/// The memory map the guest is told about, laid out as the guest contract says:
/// conventional memory up to the EBDA, the legacy BIOS area reserved (the ACPI tables live
/// in it), RAM from 1 MiB to the MMIO hole, and RAM again above 4 GiB.
public struct E820Map: Equatable, Sendable {
    /// E820_MAX_ENTRIES_ZEROPAGE: more would run into boot_params' next field.
    public static let maximumEntries = 128

    /// Sorted by address.
    public let entries: [E820Entry]

    /// `ramRanges` is what the machine mapped (X86MemoryMap.ramRanges); `extraReserved`
    /// adds windows the guest must leave alone, such as a PCI ECAM area.
    public init(
        ramRanges: [(start: UInt64, size: UInt64)], extraReserved: [(start: UInt64, size: UInt64)] = []
    ) throws(BootError) {
        var entries: [E820Entry] = [
            E820Entry(
                address: BootLayout.lowMemoryEnd, size: BootLayout.highMemoryStart - BootLayout.lowMemoryEnd,
                kind: .reserved)
        ]
        // The legacy window is carved out of whatever RAM covers it.
        let windows: [Range<UInt64>] = [0..<BootLayout.lowMemoryEnd, BootLayout.highMemoryStart..<UInt64.max]
        for range in ramRanges where range.size > 0 {
            let ram = range.start..<(range.start + range.size)
            for window in windows where ram.overlaps(window) {
                let piece = ram.clamped(to: window)
                entries.append(E820Entry(address: piece.lowerBound, size: UInt64(piece.count), kind: .ram))
            }
        }
        for range in extraReserved where range.size > 0 {
            entries.append(E820Entry(address: range.start, size: range.size, kind: .reserved))
        }
        guard entries.count <= Self.maximumEntries else { throw .tooManyE820Entries(entries.count) }
        self.entries = entries.sorted { $0.address < $1.address }
    }

    /// Top of the RAM below the MMIO hole: the initrd's ceiling.
    public var ramTopBelow4G: UInt64 {
        entries.filter { $0.kind == .ram && $0.address < 1 << 32 }
            .map { min($0.address + $0.size, 1 << 32) }.max() ?? 0
    }
}
