import SwiftletMemory

/// Where the loader puts things in guest-physical memory: the numbers of the shared guest
/// contract, in one place so the KVM layer, the ACPI builder and the tests agree.
public enum BootLayout {
    /// The GDT the vCPU starts with (null, null, code 0x10, data 0x18, TSS 0x20).
    public static let gdt = GuestAddress(0x500)
    /// boot_params, the "zero page"; RSI points here at entry.
    public static let bootParams = GuestAddress(0x7000)
    /// A stack for the first instructions. Linux sets its own before it pushes anything,
    /// but a sane RSP costs nothing: it sits between the zero page and the PML4.
    public static let stackPointer: UInt64 = 0x8FF0
    /// Page-table root (CR3), its single PDPT and the four page directories after it.
    public static let pml4 = GuestAddress(0x9000)
    public static let pdpt = GuestAddress(0xA000)
    public static let pageDirectories = GuestAddress(0xB000)
    /// The kernel command line, NUL-terminated.
    public static let commandLine = GuestAddress(0x20000)
    /// Where the ACPI builder puts the RSDP (in the BIOS area the kernel scans anyway).
    public static let rsdp = GuestAddress(0xE0000)
    /// End of conventional memory: the EBDA and the legacy BIOS/VGA area follow.
    public static let lowMemoryEnd: UInt64 = 0x9FC00
    /// Start of "high" memory: nothing below it belongs to the kernel or the initrd.
    public static let highMemoryStart: UInt64 = 0x10_0000
    public static let pageSize: UInt64 = 0x1000
}

extension UInt64 {
    /// Rounds down to a multiple of `alignment` (a power of two).
    func alignedDown(to alignment: UInt64) -> UInt64 { self & ~(alignment - 1) }
}
