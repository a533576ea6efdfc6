/// The parts of an ELF64 executable a loader needs: where each PT_LOAD segment goes and
/// where to start. The file is untrusted: every offset and size is checked against the
/// file and against wrap-around before anything is copied (System V gABI, "ELF Header"
/// and "Program Header").
public struct ELFImage: Equatable, Sendable {
    /// One PT_LOAD segment. `physicalAddress` is p_paddr: Linux links vmlinux with its
    /// virtual addresses in p_vaddr and its load addresses in p_paddr.
    public struct Segment: Equatable, Sendable {
        /// Index in the program header table, for messages.
        public let index: Int
        public let fileOffset: UInt64
        public let fileSize: UInt64
        public let physicalAddress: UInt64
        public let memorySize: UInt64

        /// [p_paddr, p_paddr + p_memsz); never wraps, the parser made sure.
        public var addressRange: Range<UInt64> { physicalAddress..<(physicalAddress + memorySize) }
    }

    /// e_entry. For vmlinux this is already physical (ENTRY(phys_startup_64)).
    public let entry: UInt64
    /// Loadable segments with a non-zero memory size, in program-header order.
    public let segments: [Segment]

    static let headerSize = 64
    static let programHeaderSize = 56
    static let machineX86_64: UInt16 = 62
    static let loadType: UInt32 = 1

    /// Whether `bytes` starts with the ELF magic, whatever else is wrong with it.
    public static func hasMagic(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 4 && bytes[0] == 0x7F && bytes[1] == 0x45 && bytes[2] == 0x4C && bytes[3] == 0x46
    }

    public init(bytes: [UInt8]) throws(KernelImageError) {
        guard Self.hasMagic(bytes) else { throw .notAKernel }
        guard bytes.count >= Self.headerSize,
            let elfClass = bytes.u8(at: 4), let encoding = bytes.u8(at: 5),
            let machine = bytes.u16(at: 0x12), let entry = bytes.u64(at: 0x18),
            let tableOffset = bytes.u64(at: 0x20), let entrySize = bytes.u16(at: 0x36),
            let entryCount = bytes.u16(at: 0x38)
        else { throw .truncatedELFHeader }
        guard elfClass == 2 else { throw .elfNot64Bit(elfClass) }
        guard encoding == 1 else { throw .elfNotLittleEndian }
        guard machine == Self.machineX86_64 else { throw .elfWrongMachine(machine) }
        guard entrySize == Self.programHeaderSize || entryCount == 0 else {
            throw .badProgramHeaderSize(entrySize)
        }

        // The whole table must lie inside the file before a single entry is read.
        let (tableSize, _) = UInt64(entryCount).multipliedReportingOverflow(by: UInt64(Self.programHeaderSize))
        let (tableEnd, wrapped) = tableOffset.addingReportingOverflow(tableSize)
        guard !wrapped, tableEnd <= UInt64(bytes.count) else { throw .truncatedProgramHeaders }

        var segments: [Segment] = []
        for index in 0..<Int(entryCount) {
            let at = Int(tableOffset) + index * Self.programHeaderSize
            guard let type = bytes.u32(at: at), let offset = bytes.u64(at: at + 0x08),
                let paddr = bytes.u64(at: at + 0x18), let fileSize = bytes.u64(at: at + 0x20),
                let memorySize = bytes.u64(at: at + 0x28)
            else { throw .truncatedProgramHeaders }
            guard type == Self.loadType else { continue }

            let (fileEnd, fileWrapped) = offset.addingReportingOverflow(fileSize)
            guard !fileWrapped, fileEnd <= UInt64(bytes.count) else { throw .segmentOutsideFile(index: index) }
            guard memorySize >= fileSize else { throw .segmentMemorySmallerThanFile(index: index) }
            guard !paddr.addingReportingOverflow(memorySize).overflow else {
                throw .segmentAddressOverflow(index: index)
            }
            if memorySize == 0 { continue }
            segments.append(Segment(
                index: index, fileOffset: offset, fileSize: fileSize,
                physicalAddress: paddr, memorySize: memorySize))
        }
        guard !segments.isEmpty else { throw .noLoadableSegments }

        // Two segments loaded over each other means one silently loses: refuse instead.
        let byAddress = segments.sorted { $0.physicalAddress < $1.physicalAddress }
        for (lower, upper) in zip(byAddress, byAddress.dropFirst())
        where lower.addressRange.overlaps(upper.addressRange) {
            throw .segmentsOverlap(lower.index, upper.index)
        }

        self.entry = entry
        self.segments = segments
    }
}
