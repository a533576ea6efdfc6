import SwiftletMemory

/// struct boot_params, the 4 KiB "zero page" Linux reads at entry (RSI points at it).
/// Offsets are from arch/x86/include/uapi/asm/bootparam.h; a boot loader starts from zeros,
/// copies in the kernel's setup header and fills in the fields it owns (boot.rst, "64-bit
/// Boot Protocol").
public struct BootParams: Equatable, Sendable {
    public static let size = 4096

    enum Offset {
        static let acpiRSDPAddress = 0x070
        static let extRamdiskImage = 0x0C0
        static let extRamdiskSize = 0x0C4
        static let extCommandLinePointer = 0x0C8
        static let e820Entries = 0x1E8
        static let typeOfLoader = 0x210
        static let loadFlags = 0x211
        static let ramdiskImage = 0x218
        static let ramdiskSize = 0x21C
        static let heapEndPointer = 0x224
        static let commandLinePointer = 0x228
        static let e820Table = 0x2D0
    }

    /// "Undefined" boot loader: we have no ID from the kernel's list.
    public static let undefinedLoader: UInt8 = 0xFF
    /// The end of the real-mode heap, as every loader that loads setup at 0x90000 says;
    /// a 64-bit entry never runs setup, but the kernel checks the flag and value agree.
    public static let heapEnd: UInt16 = 0xFE00

    public private(set) var bytes: [UInt8]

    /// A zero page holding `header` at 0x1f1, marked as loaded by us, high, with a heap.
    public init(header: SetupHeader) {
        bytes = [UInt8](repeating: 0, count: Self.size)
        let raw = header.rawBytes.prefix(SetupHeader.maximumEnd - SetupHeader.offset)
        bytes.replaceSubrange(SetupHeader.offset..<(SetupHeader.offset + raw.count), with: raw)
        bytes[Offset.typeOfLoader] = Self.undefinedLoader
        bytes[Offset.loadFlags] |= SetupHeader.loadedHigh | SetupHeader.canUseHeap
        bytes.store(Self.heapEnd, at: Offset.heapEndPointer)
    }

    /// cmd_line_ptr, split across the 32-bit field and its ext_ high half.
    public mutating func setCommandLine(at address: GuestAddress) {
        bytes.store(UInt32(truncatingIfNeeded: address.value), at: Offset.commandLinePointer)
        bytes.store(UInt32(truncatingIfNeeded: address.value >> 32), at: Offset.extCommandLinePointer)
    }

    public mutating func setRamdisk(at address: GuestAddress, size: UInt64) {
        bytes.store(UInt32(truncatingIfNeeded: address.value), at: Offset.ramdiskImage)
        bytes.store(UInt32(truncatingIfNeeded: address.value >> 32), at: Offset.extRamdiskImage)
        bytes.store(UInt32(truncatingIfNeeded: size), at: Offset.ramdiskSize)
        bytes.store(UInt32(truncatingIfNeeded: size >> 32), at: Offset.extRamdiskSize)
    }

    public mutating func setE820(_ map: E820Map) {
        // E820Map never holds more than 128 entries; the prefix is belt and braces.
        let entries = map.entries.prefix(E820Map.maximumEntries)
        bytes[Offset.e820Entries] = UInt8(entries.count)
        for (index, entry) in entries.enumerated() {
            let at = Offset.e820Table + index * E820Entry.encodedSize
            bytes.replaceSubrange(at..<(at + E820Entry.encodedSize), with: entry.encoded)
        }
    }

    /// acpi_rsdp_addr (protocol 2.14): spares the kernel its scan of the BIOS area.
    public mutating func setACPIRSDP(_ address: GuestAddress) {
        bytes.store(address.value, at: Offset.acpiRSDPAddress)
    }

    public func write(to memory: GuestMemory, at address: GuestAddress = BootLayout.bootParams) throws(GuestMemoryError) {
        try memory.write(bytes: bytes, at: address)
    }
}
