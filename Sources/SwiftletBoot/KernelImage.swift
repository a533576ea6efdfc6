import SwiftletMemory

/// A kernel file turned into what goes where in guest RAM, and where to start.
///
/// Two kinds of file boot. An ELF vmlinux loads segment by segment at its physical
/// addresses. A bzImage is a small real-mode setup, a header, and a compressed vmlinux
/// (the payload): we decompress the payload on the host and load the ELF inside exactly
/// like a vmlinux, because the alternative, the kernel's decompressor, spends seconds of
/// emulated instructions on PVM. A payload format we cannot decompress, or a user who asks
/// for the kernel's decompressor (`KernelDecompression.guest`), makes us load the
/// protected-mode code as it is and enter its 64-bit entry point instead.
public struct KernelImage: Sendable {
    public enum Kind: Equatable, Sendable, CustomStringConvertible {
        case elf
        /// A bzImage whose payload we decompressed; the guest starts in vmlinux.
        case bzImage(PayloadFormat)
        /// A bzImage whose payload we could not decompress; the guest starts in the
        /// kernel's own decompressor.
        case selfDecompressingBzImage(PayloadFormat)

        public var description: String {
            switch self {
            case .elf: return "ELF vmlinux"
            case .bzImage(let format): return "bzImage (\(format) payload, decompressed by swiftlet)"
            case .selfDecompressingBzImage(let format): return "bzImage (\(format) payload, decompressed by the kernel)"
            }
        }
    }

    /// Bytes to place at `address`, followed by zeros up to `memorySize` (ELF .bss).
    public struct Segment: Equatable, Sendable {
        public let address: UInt64
        public let bytes: ArraySlice<UInt8>
        public let memorySize: UInt64

        public var range: Range<UInt64> { address..<(address + memorySize) }
    }

    /// The file may be a vmlinux with debug info; beyond this it is not a kernel we want.
    public static let fileSizeLimit: UInt64 = 1 << 30
    /// Where the 64-bit entry point sits in a bzImage's protected-mode code (startup_64;
    /// boot.rst, "64-bit Boot Protocol").
    public static let bzImage64BitEntryOffset: UInt64 = 0x200
    /// LOAD_PHYSICAL_ADDR of a default x86-64 build, for a header that names none.
    static let defaultLoadAddress: UInt64 = 0x100_0000

    public let path: String
    public let kind: Kind
    /// The bzImage's header, or one made up for an ELF kernel.
    public let header: SetupHeader
    public let segments: [Segment]
    /// RIP at entry.
    public let entry: UInt64

    /// From the lowest segment start to the highest segment end: what the initrd avoids.
    public var footprint: Range<UInt64> {
        let low = segments.map(\.address).min() ?? 0
        return low..<max(low, segments.map(\.range.upperBound).max() ?? 0)
    }

    /// Reads and parses the kernel at `path`.
    public init(path: String, decompression: KernelDecompression = .host) throws(BootError) {
        let bytes = try HostFile(path, role: .kernel).readAll(limit: Self.fileSizeLimit)
        try self.init(path: path, bytes: bytes, decompression: decompression)
    }

    /// Parses kernel file contents; `path` is for messages.
    public init(path: String, bytes: [UInt8], decompression: KernelDecompression = .host) throws(BootError) {
        self.path = path
        do {
            (kind, header, segments, entry) = try Self.parse(bytes, decompression: decompression)
        } catch {
            throw .badKernel(path: path, error)
        }
    }

    private static func parse(
        _ bytes: [UInt8], decompression: KernelDecompression
    ) throws(KernelImageError) -> (Kind, SetupHeader, [Segment], UInt64) {
        if ELFImage.hasMagic(bytes) {
            let (segments, entry) = try elfSegments(bytes)
            return (.elf, .synthesizedForELF(), segments, entry)
        }
        let header = try SetupHeader(bzImage: bytes)
        let code = UInt64(header.protectedModeOffset)
        let payloadStart = code + UInt64(header.payloadOffset)
        let payloadEnd = payloadStart + UInt64(header.payloadLength)
        guard code < UInt64(bytes.count), payloadEnd <= UInt64(bytes.count) else {
            throw .payloadOutsideFile(offset: payloadStart, length: UInt64(header.payloadLength))
        }
        let payload = Array(bytes[Int(payloadStart)..<Int(payloadEnd)])
        if decompression == .guest {
            return selfDecompressing(bytes, header: header, format: PayloadFormat(magicOf: payload))
        }

        let contents: PayloadContents
        do {
            contents = try PayloadDecompressor.decompress(payload)
        } catch {
            throw .decompression(error)
        }
        switch contents {
        case .decompressed(let format, let vmlinux):
            do {
                let (segments, entry) = try elfSegments(vmlinux)
                return (.bzImage(format), header, segments, entry)
            } catch {
                throw .inPayload(error)
            }
        case .unsupported(let format):
            return selfDecompressing(bytes, header: header, format: format)
        }
    }

    /// The whole protected-mode part, loaded where the kernel prefers to run, with room
    /// for init_size: the decompressor works in place from there. A preferred address that
    /// is absent or absurd gives way to 16 MiB, the x86-64 default, which satisfies any
    /// kernel_alignment a real kernel asks for.
    private static func selfDecompressing(
        _ bytes: [UInt8], header: SetupHeader, format: PayloadFormat
    ) -> (Kind, SetupHeader, [Segment], UInt64) {
        let image = bytes[Int(header.protectedModeOffset)...]
        let memorySize = max(UInt64(image.count), UInt64(header.initSize))
        let preferred = header.preferredAddress
        let sane = preferred >= BootLayout.highMemoryStart
            && preferred.alignedDown(to: BootLayout.pageSize) == preferred
            && preferred < X86MemoryMap.mmioHoleEnd
        let address = sane ? preferred : defaultLoadAddress
        let segment = Segment(address: address, bytes: image, memorySize: memorySize)
        return (.selfDecompressingBzImage(format), header, [segment], address + bzImage64BitEntryOffset)
    }

    private static func elfSegments(_ bytes: [UInt8]) throws(KernelImageError) -> ([Segment], UInt64) {
        let elf = try ELFImage(bytes: bytes)
        let segments = elf.segments.map { segment in
            let start = Int(segment.fileOffset)
            return Segment(
                address: segment.physicalAddress, bytes: bytes[start..<(start + Int(segment.fileSize))],
                memorySize: segment.memorySize)
        }
        guard segments.contains(where: { $0.range.contains(elf.entry) }) else {
            throw .entryOutsideSegments(elf.entry)
        }
        return (segments, elf.entry)
    }

    /// Copies the segments into guest RAM, zeroing each one's tail. Every segment is
    /// checked before the first byte is written, so a kernel that does not fit leaves RAM
    /// untouched.
    public func load(into memory: GuestMemory) throws(BootError) {
        for segment in segments {
            guard segment.address >= BootLayout.highMemoryStart else {
                throw .badKernel(path: path, .segmentBelowHighMemory(address: segment.address))
            }
            guard memory.contains(GuestAddress(segment.address), count: segment.memorySize) else {
                throw .badKernel(path: path, .segmentOutsideRAM(address: segment.address, size: segment.memorySize))
            }
        }
        for segment in segments {
            let start = GuestAddress(segment.address)
            let fileSize = UInt64(segment.bytes.count)
            do {
                // One memcpy per segment: tens of MiB byte by byte would take seconds.
                try segment.bytes.withUnsafeBytes { source in
                    try memory.withBytes(at: start, count: fileSize) { target in target.copyMemory(from: source) }
                }
                try memory.fill(0, at: GuestAddress(segment.address + fileSize), count: segment.memorySize - fileSize)
            } catch {
                // Only GuestMemory throws here, and the checks above make even that moot.
                throw .guestMemory(error as? GuestMemoryError ?? .outOfRange(start, count: segment.memorySize))
            }
        }
    }
}
