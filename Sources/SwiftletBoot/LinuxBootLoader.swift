import SwiftletMemory

/// Loads a Linux guest into RAM the way the 64-bit boot protocol expects to find it, and
/// says how to start it. This is the one entry point the machine calls.
public enum LinuxBootLoader {
    /// Loads the kernel, the initrd and the command line, then the zero page, GDT and
    /// page tables, into `memory`. `rsdp` goes into boot_params.acpi_rsdp_addr when the
    /// machine has ACPI tables; `extraReserved` ranges are marked reserved in the e820 map.
    /// `decompression` says who decompresses a bzImage's payload.
    public static func load(
        kernelPath: String,
        initrdPath: String?,
        arguments: [String],
        memory: GuestMemory,
        rsdp: GuestAddress?,
        extraReserved: [(start: UInt64, size: UInt64)] = [],
        decompression: KernelDecompression = .host
    ) throws(BootError) -> BootEntry {
        let kernel = try KernelImage(path: kernelPath, decompression: decompression)
        try kernel.load(into: memory)

        let ranges = memory.regions.map { (start: $0.start.value, size: $0.size) }
        let e820 = try E820Map(ramRanges: ranges, extraReserved: extraReserved)
        var params = BootParams(header: kernel.header)
        params.setE820(e820)
        if let rsdp { params.setACPIRSDP(rsdp) }

        // cmdline_size is the kernel's word, but the line must also stay within the low
        // memory between 0x20000 and the EBDA: a hostile header may claim 4 GiB.
        let room = Int(BootLayout.lowMemoryEnd - BootLayout.commandLine.value) - 1
        let commandLine = KernelCommandLine(arguments: arguments)
        let encoded = try commandLine.encoded(limit: min(Int(kernel.header.commandLineSize), room))
        try guestWrite { () throws(GuestMemoryError) in try memory.write(bytes: encoded, at: BootLayout.commandLine) }
        params.setCommandLine(at: BootLayout.commandLine)

        var initrd: (path: String, range: Range<UInt64>)?
        if let initrdPath {
            let range = try loadInitrd(initrdPath, kernel: kernel, e820: e820, memory: memory)
            params.setRamdisk(at: GuestAddress(range.lowerBound), size: UInt64(range.count))
            initrd = (initrdPath, range)
        }

        try guestWrite { () throws(GuestMemoryError) in
            try params.write(to: memory)
            try GDT.write(to: memory)
            try PageTables.write(to: memory)
        }

        let summary = BootSummary(
            kernelPath: kernelPath, kernelKind: kernel.kind, kernel: kernel.footprint, entry: kernel.entry,
            initrd: initrd, commandLine: commandLine.text, e820: e820)
        return BootEntry(
            rip: kernel.entry, rsi: BootLayout.bootParams.value, rsp: BootLayout.stackPointer, rflags: 0x2,
            system: .entry, summary: summary)
    }

    /// Places the initrd per `InitrdPlacement` and reads it straight into guest RAM.
    static func loadInitrd(
        _ path: String, kernel: KernelImage, e820: E820Map, memory: GuestMemory
    ) throws(BootError) -> Range<UInt64> {
        let file = try HostFile(path, role: .initrd)
        let placement = InitrdPlacement(
            size: file.size, initrdAddressMax: kernel.header.initrdAddressMax,
            ramTopBelow4G: e820.ramTopBelow4G, kernel: kernel.footprint)
        guard let address = placement.address, memory.contains(GuestAddress(address), count: file.size) else {
            throw .initrdDoesNotFit(path: path, size: file.size, ceiling: placement.ceiling, ramSize: memory.size)
        }
        try file.read(into: memory, at: GuestAddress(address))
        return address..<(address + file.size)
    }

    private static func guestWrite(_ body: () throws(GuestMemoryError) -> Void) throws(BootError) {
        do { try body() } catch { throw .guestMemory(error) }
    }
}
