/// The x86 boot protocol's setup header: the part of a bzImage a boot loader reads, and
/// copies into boot_params (Documentation/x86/boot.rst, "The Real-Mode Kernel Header";
/// struct setup_header in arch/x86/include/uapi/asm/bootparam.h).
///
/// Offsets below are from the start of the file, which is also their offset in
/// boot_params: the header sits at 0x1f1 in both.
public struct SetupHeader: Equatable, Sendable {
    /// Where the header starts, in the file and in boot_params.
    public static let offset = 0x1F1
    /// The 2.12 protocol brought xloadflags, and with it the promise of a 64-bit entry.
    public static let minimumVersion: UInt16 = 0x020C
    /// The header may not spill past this in boot_params: edd_mbr_sig_buffer follows.
    static let maximumEnd = 0x290
    /// init_size is the last field we read (protocol 2.10).
    static let minimumEnd = 0x264

    public static let loadedHigh: UInt8 = 0x01
    public static let canUseHeap: UInt8 = 0x80
    public static let xlfKernel64: UInt16 = 0x01

    /// The header's bytes from 0x1f1 to its end, verbatim, for boot_params.
    public let rawBytes: [UInt8]

    public let setupSectors: UInt8
    public let bootFlag: UInt16
    public let version: UInt16
    public let loadFlags: UInt8
    public let code32Start: UInt32
    public let initrdAddressMax: UInt32
    public let kernelAlignment: UInt32
    public let relocatableKernel: Bool
    public let xloadFlags: UInt16
    public let commandLineSize: UInt32
    public let payloadOffset: UInt32
    public let payloadLength: UInt32
    public let preferredAddress: UInt64
    public let initSize: UInt32

    /// Parses and checks the header of a bzImage we can enter in 64-bit mode.
    public init(bzImage bytes: [UInt8]) throws(KernelImageError) {
        // The byte at 0x201 is the operand of the short jump at 0x200 over the header:
        // the header ends where that jump lands.
        guard bytes.u32(at: 0x202) == 0x5372_6448, let jump = bytes.u8(at: 0x201) else {
            throw .notAKernel  // no "HdrS": not a bzImage at all
        }
        // Flag and version first: an old kernel's header is short, and "too old" is the
        // truer complaint than "truncated".
        guard let flag = bytes.u16(at: 0x1FE), let version = bytes.u16(at: 0x206) else {
            throw .truncatedSetupHeader
        }
        guard flag == 0xAA55 else { throw .badBootFlag(flag) }
        guard version >= Self.minimumVersion else { throw .protocolTooOld(version) }

        let end = min(0x202 + Int(jump), Self.maximumEnd)
        guard end >= Self.minimumEnd, end <= bytes.count else { throw .truncatedSetupHeader }
        self.init(parsing: Array(bytes[Self.offset..<end]))
        guard xloadFlags & Self.xlfKernel64 != 0 else { throw .no64BitEntry }
    }

    /// Reads the fields of header bytes that start at 0x1f1 and reach at least
    /// `minimumEnd`, which the callers have checked.
    private init(parsing raw: [UInt8]) {
        let base = Self.offset
        rawBytes = raw
        setupSectors = raw.u8(at: 0x1F1 - base) ?? 0
        bootFlag = raw.u16(at: 0x1FE - base) ?? 0
        version = raw.u16(at: 0x206 - base) ?? 0
        loadFlags = raw.u8(at: 0x211 - base) ?? 0
        code32Start = raw.u32(at: 0x214 - base) ?? 0
        initrdAddressMax = raw.u32(at: 0x22C - base) ?? 0
        kernelAlignment = raw.u32(at: 0x230 - base) ?? 0
        relocatableKernel = (raw.u8(at: 0x234 - base) ?? 0) != 0
        xloadFlags = raw.u16(at: 0x236 - base) ?? 0
        commandLineSize = raw.u32(at: 0x238 - base) ?? 0
        payloadOffset = raw.u32(at: 0x248 - base) ?? 0
        payloadLength = raw.u32(at: 0x24C - base) ?? 0
        preferredAddress = raw.u64(at: 0x258 - base) ?? 0
        initSize = raw.u32(at: 0x260 - base) ?? 0
    }

    /// Where the protected-mode code starts in the file: after the boot sector and the
    /// setup sectors (0 means 4, for the sake of kernels older than anyone here).
    public var protectedModeOffset: Int {
        (Int(setupSectors == 0 ? 4 : setupSectors) + 1) * 512
    }

    /// The header a boot loader would have found had the kernel been a bzImage, for an
    /// ELF vmlinux, which has none: Linux still reads its fields from boot_params.
    public static func synthesizedForELF() -> SetupHeader {
        var bytes = [UInt8](repeating: 0, count: minimumEnd + 8 - offset)
        func put<T: FixedWidthInteger>(_ value: T, _ at: Int) { bytes.store(value, at: at - offset) }
        put(UInt16(0xAA55), 0x1FE)
        put(UInt8(0xEB), 0x200)
        put(UInt8(minimumEnd + 8 - 0x202), 0x201)
        put(UInt32(0x5372_6448), 0x202)  // "HdrS"
        put(UInt16(0x020F), 0x206)
        put(loadedHigh, 0x211)
        // boot.rst: a kernel without initrd_addr_max means 0x37ffffff.
        put(UInt32(0x37FF_FFFF), 0x22C)
        put(UInt32(0x100_0000), 0x230)
        put(xlfKernel64, 0x236)
        // COMMAND_LINE_SIZE on x86.
        put(UInt32(2048), 0x238)
        return SetupHeader(parsing: bytes)
    }
}
