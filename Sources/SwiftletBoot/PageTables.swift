import SwiftletMemory

/// The page tables for the 64-bit entry: an identity map of the first 4 GiB in 2 MiB
/// pages, which the boot protocol requires to cover the kernel, boot_params and the
/// command line (boot.rst, "64-bit Boot Protocol"). One PML4 entry, one PDPT with four
/// entries, and four page directories, at the contract's 0x9000, 0xA000 and 0xB000.
public enum PageTables {
    static let present: UInt64 = 1 << 0
    static let writable: UInt64 = 1 << 1
    static let largePage: UInt64 = 1 << 7
    public static let mappedGigabytes = 4

    /// CR3.
    public static var root: GuestAddress { BootLayout.pml4 }

    public static func write(to memory: GuestMemory) throws(GuestMemoryError) {
        let pml4 = BootLayout.pml4.value, pdpt = BootLayout.pdpt.value
        let directories = BootLayout.pageDirectories.value
        try memory.fill(0, at: BootLayout.pml4, count: BootLayout.pageSize)
        try memory.write(pdpt | present | writable, at: GuestAddress(pml4))
        try memory.fill(0, at: BootLayout.pdpt, count: BootLayout.pageSize)
        for gigabyte in 0..<UInt64(mappedGigabytes) {
            let directory = directories + gigabyte * BootLayout.pageSize
            try memory.write(directory | present | writable, at: GuestAddress(pdpt + gigabyte * 8))
            var entries = [UInt8](repeating: 0, count: Int(BootLayout.pageSize))
            for index in 0..<512 {
                let physical = (gigabyte << 30) | (UInt64(index) << 21)
                entries.store(physical | present | writable | largePage, at: index * 8)
            }
            try memory.write(bytes: entries, at: GuestAddress(directory))
        }
    }
}
