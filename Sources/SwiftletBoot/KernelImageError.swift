/// Why a kernel file cannot be booted. The description is the reason only; `BootError`
/// puts "kernel <path>: " in front of it.
public indirect enum KernelImageError: Error, Equatable, CustomStringConvertible {
    case notAKernel
    case tooLarge(UInt64)

    // ELF (vmlinux, or the payload inside a bzImage)
    case truncatedELFHeader
    case elfNot64Bit(UInt8)
    case elfNotLittleEndian
    case elfWrongMachine(UInt16)
    case badProgramHeaderSize(UInt16)
    case truncatedProgramHeaders
    case segmentOutsideFile(index: Int)
    case segmentMemorySmallerThanFile(index: Int)
    case segmentAddressOverflow(index: Int)
    case segmentsOverlap(Int, Int)
    case noLoadableSegments

    // bzImage setup header
    case truncatedSetupHeader
    case badBootFlag(UInt16)
    case protocolTooOld(UInt16)
    case no64BitEntry
    case payloadOutsideFile(offset: UInt64, length: UInt64)
    case decompression(DecompressionError)
    case inPayload(KernelImageError)

    // Placing it in guest RAM
    case segmentBelowHighMemory(address: UInt64)
    case segmentOutsideRAM(address: UInt64, size: UInt64)
    case entryOutsideSegments(UInt64)

    public var description: String {
        switch self {
        case .notAKernel: return "not an ELF file or a bzImage"
        case .tooLarge(let size): return "\(humanSize(size)) is too large for a kernel"
        case .truncatedELFHeader: return "truncated ELF header"
        case .elfNot64Bit(let elfClass): return "ELF class \(elfClass) is not 64-bit"
        case .elfNotLittleEndian: return "ELF file is not little-endian"
        case .elfWrongMachine(let machine): return "ELF machine \(machine) is not x86-64"
        case .badProgramHeaderSize(let size): return "ELF program header size \(size) is not 56"
        case .truncatedProgramHeaders: return "truncated ELF program header table"
        case .segmentOutsideFile(let index): return "ELF segment \(index) runs past the end of the file"
        case .segmentMemorySmallerThanFile(let index): return "ELF segment \(index) is smaller in memory than in the file"
        case .segmentAddressOverflow(let index): return "ELF segment \(index) wraps around the address space"
        case .segmentsOverlap(let first, let second): return "ELF segments \(first) and \(second) overlap"
        case .noLoadableSegments: return "ELF file has no loadable segments"
        case .truncatedSetupHeader: return "truncated bzImage setup header"
        case .badBootFlag(let flag): return "boot flag \(hex(flag)) is not 0xaa55"
        case .protocolTooOld(let version):
            return "boot protocol \(version >> 8).\(String(format2: version & 0xff)) is older than 2.12 (no 64-bit entry)"
        case .no64BitEntry: return "bzImage has no 64-bit entry point (XLF_KERNEL_64 is clear)"
        case .payloadOutsideFile(let offset, let length):
            return "payload at \(hex(offset)) (\(hex(length)) bytes) runs past the end of the file"
        case .decompression(let error): return "payload: \(error)"
        case .inPayload(let error): return "decompressed payload: \(error)"
        case .segmentBelowHighMemory(let address):
            return "segment at \(hex(address)) is below 1 MiB, where the boot structures live"
        case .segmentOutsideRAM(let address, let size):
            return "segment at \(hex(address)) (\(humanSize(size))) does not fit in guest RAM"
        case .entryOutsideSegments(let entry): return "entry point \(hex(entry)) is not inside a loaded segment"
        }
    }
}

extension String {
    /// Two-digit decimal minor versions: protocol 0x0206 reads "2.06", as boot.rst writes it.
    init(format2 value: UInt16) { self = value < 10 ? "0\(value)" : "\(value)" }
}
