import SwiftletMemory
import Testing
@testable import SwiftletBoot

@Suite struct LinuxBootLoaderTests {
    static let text: [UInt8] = Array(0..<200)
    static let vmlinux = TestImages.elf(entry: 0x100_0040, loads: [
        .init(paddr: 0x100_0000, data: text, memsz: 0x3000),
        .init(paddr: 0x200_0000, data: [7, 7, 7]),
    ])

    func memory(_ size: UInt64 = 64 << 20) throws -> GuestMemory {
        try GuestMemory(ranges: X86MemoryMap.ramRanges(size: size))
    }

    @Test func loadsAnELFVmlinux() throws {
        let kernel = try TestImages.TemporaryFile(Self.vmlinux, name: "vmlinux")
        let initrd = try TestImages.TemporaryFile(Array(repeating: 0x42, count: 5000), name: "initrd")
        let ram = try memory()
        try ram.fill(0xCC, at: GuestAddress(0x100_0000), count: 0x4000)  // stale .bss must be zeroed
        let entry = try LinuxBootLoader.load(
            kernelPath: kernel.path, initrdPath: initrd.path, arguments: ["console=ttyS0", "panic=-1"], memory: ram,
            rsdp: BootLayout.rsdp)

        #expect(entry.rip == 0x100_0040)
        #expect(entry.rsi == 0x7000)
        #expect(entry.system == .entry)
        #expect(try ram.readBytes(at: GuestAddress(0x100_0000), count: 200) == Self.text)
        #expect(try ram.readBytes(at: GuestAddress(0x100_00C8), count: 0x2F38).allSatisfy { $0 == 0 })
        #expect(try ram.readBytes(at: GuestAddress(0x200_0000), count: 3) == [7, 7, 7])
        #expect(entry.summary.kernelKind == .elf)
        #expect(entry.summary.kernel == 0x100_0000..<0x200_0003)

        // The zero page: a synthesized header, our command line, the initrd at the top.
        #expect(try ram.read(UInt16.self, at: GuestAddress(0x7000 + 0x1FE)) == 0xAA55)
        #expect(try ram.read(UInt16.self, at: GuestAddress(0x7000 + 0x206)) == 0x020F)
        #expect(try ram.read(UInt32.self, at: GuestAddress(0x7000 + 0x228)) == 0x20000)
        #expect(try ram.readBytes(at: GuestAddress(0x20000), count: 23) == Array("console=ttyS0 panic=-1".utf8) + [0])
        let initrdAddress = try ram.read(UInt32.self, at: GuestAddress(0x7000 + 0x218))
        #expect(initrdAddress == (64 << 20) - 0x2000)
        #expect(try ram.read(UInt32.self, at: GuestAddress(0x7000 + 0x21C)) == 5000)
        #expect(try ram.readBytes(at: GuestAddress(UInt64(initrdAddress)), count: 5000).allSatisfy { $0 == 0x42 })
        #expect(try ram.read(UInt64.self, at: GuestAddress(0x7000 + 0x070)) == 0xE0000)
        #expect(try ram.read(UInt8.self, at: GuestAddress(0x7000 + 0x1E8)) == 3)
        // And the structures for the 64-bit entry.
        #expect(try ram.read(UInt64.self, at: GuestAddress(0x510)) == GDT.code64)
        #expect(try ram.read(UInt64.self, at: GuestAddress(0x9000)) == 0xA003)
        #expect(entry.summary.description.contains("initrd \(initrd.path): 5 KiB at 0x3ffe000-0x3fff388"))
    }

    @Test(arguments: [PayloadFormat.gzip, .xz, .lz4, .zstd])
    func loadsABzImageByDecompressingItsPayload(format: PayloadFormat) throws {
        let payload: [UInt8]
        switch format {
        case .gzip: payload = TestImages.gzip(Self.vmlinux)
        case .xz: payload = TestImages.xz(Self.vmlinux)
        case .lz4: payload = TestImages.lz4Legacy(Self.vmlinux)
        default: payload = TestImages.zstd(Self.vmlinux)
        }
        let kernel = try TestImages.TemporaryFile(TestImages.bzImage(payload: payload, cmdlineSize: 10), name: "bzImage")
        let ram = try memory()
        let entry = try LinuxBootLoader.load(kernelPath: kernel.path, initrdPath: nil, arguments: ["quiet"], memory: ram, rsdp: nil)
        #expect(entry.rip == 0x100_0040)
        #expect(entry.summary.kernelKind == .bzImage(format))
        #expect(try ram.readBytes(at: GuestAddress(0x100_0000), count: 200) == Self.text)
        // The bzImage's own header goes into the zero page, with its limits.
        #expect(try ram.read(UInt16.self, at: GuestAddress(0x7000 + 0x236)) == 0x03)
        #expect(try ram.read(UInt32.self, at: GuestAddress(0x7000 + 0x238)) == 10)
        #expect(try ram.read(UInt32.self, at: GuestAddress(0x7000 + 0x218)) == 0)  // no initrd
        #expect(try ram.read(UInt64.self, at: GuestAddress(0x7000 + 0x070)) == 0)  // no ACPI tables

        #expect(throws: BootError.commandLineTooLong(length: 11, limit: 10)) {
            try LinuxBootLoader.load(kernelPath: kernel.path, initrdPath: nil, arguments: ["console=tty"], memory: ram, rsdp: nil)
        }
    }

    @Test func fallsBackToTheKernelsDecompressor() throws {
        let payload: [UInt8] = [0x42, 0x5A, 0x68, 0x39] + Array(repeating: 0x11, count: 100)
        let image = TestImages.bzImage(payload: payload, prefAddress: 0x100_0000, initSize: 0x40_0000)
        let kernel = try TestImages.TemporaryFile(image, name: "bzImage-bzip2")
        let ram = try memory()
        let entry = try LinuxBootLoader.load(kernelPath: kernel.path, initrdPath: nil, arguments: [], memory: ram, rsdp: nil)
        #expect(entry.summary.kernelKind == .selfDecompressingBzImage(.bzip2))
        #expect(entry.rip == 0x100_0200)
        // The protected-mode code (after 4 sectors of setup) lands at the load address.
        #expect(try ram.readBytes(at: GuestAddress(0x100_0000), count: 0x204) == Array(image[2048..<(2048 + 0x204)]))
        #expect(entry.summary.kernel == 0x100_0000..<0x140_0000)  // room for init_size

        // A hostile preferred address cannot wrap the arithmetic; it gives way to 16 MiB.
        let wild = TestImages.bzImage(payload: payload, prefAddress: UInt64.max - 0xFFF)
        let image2 = try KernelImage(path: "wild", bytes: wild)
        #expect(image2.entry == 0x100_0200)
    }

    /// --kernel-decompression=guest: a payload we could decompress is left to the kernel.
    @Test func leavesDecompressionToTheKernelWhenAsked() throws {
        let vmlinux = TestImages.elf(entry: 0x100_0000, loads: [.init(paddr: 0x100_0000, data: Array(repeating: 0x90, count: 64))])
        let image = TestImages.bzImage(payload: TestImages.gzip(vmlinux), prefAddress: 0x200_0000)
        let host = try KernelImage(path: "k", bytes: image)
        #expect(host.kind == .bzImage(.gzip))
        let guest = try KernelImage(path: "k", bytes: image, decompression: .guest)
        #expect(guest.kind == .selfDecompressingBzImage(.gzip))
        #expect(guest.entry == 0x200_0200)
        #expect(guest.segments.first?.bytes.first == image[2048])
    }

    @Test func namesTheFileInEveryError() throws {
        let ram = try memory()
        func failure(_ kernel: String, initrd: String? = nil) -> String {
            do {
                _ = try LinuxBootLoader.load(kernelPath: kernel, initrdPath: initrd, arguments: [], memory: ram, rsdp: nil)
                return "loaded"
            } catch {
                return error.description
            }
        }
        #expect(failure("/nonexistent/vmlinux") == "kernel /nonexistent/vmlinux: No such file or directory")
        #expect(failure("/tmp") == "kernel /tmp: not a regular file")

        let text = try TestImages.TemporaryFile(Array("just some text\n".utf8), name: "notes.txt")
        #expect(failure(text.path) == "kernel \(text.path): not an ELF file or a bzImage")

        let truncatedELF = try TestImages.TemporaryFile(Array(Self.vmlinux.prefix(100)), name: "short-elf")
        #expect(failure(truncatedELF.path) == "kernel \(truncatedELF.path): truncated ELF program header table")

        let bzImage = TestImages.bzImage(payload: TestImages.gzip(Self.vmlinux))
        let truncatedBz = try TestImages.TemporaryFile(Array(bzImage.prefix(2600)), name: "short-bz")
        #expect(failure(truncatedBz.path).hasPrefix("kernel \(truncatedBz.path): payload at 0xa00"))

        let corrupt = try TestImages.TemporaryFile(TestImages.bzImage(payload: TestImages.gzip(Array(Self.vmlinux.prefix(30)))), name: "bad-payload")
        #expect(failure(corrupt.path) == "kernel \(corrupt.path): decompressed payload: truncated ELF header")

        let high = TestImages.elf(entry: 0x800_0000, loads: [.init(paddr: 0x800_0000, data: [1], memsz: 0x1000)])
        let tooHigh = try TestImages.TemporaryFile(high, name: "high")
        #expect(failure(tooHigh.path) == "kernel \(tooHigh.path): segment at 0x8000000 (4 KiB) does not fit in guest RAM")

        let low = TestImages.elf(entry: 0x7000, loads: [.init(paddr: 0x7000, data: [1])])
        let tooLow = try TestImages.TemporaryFile(low, name: "low")
        #expect(failure(tooLow.path).contains("below 1 MiB"))

        let stray = TestImages.elf(entry: 0x500_0000, loads: [.init(paddr: 0x100_0000, data: [1])])
        let strayEntry = try TestImages.TemporaryFile(stray, name: "stray")
        #expect(failure(strayEntry.path) == "kernel \(strayEntry.path): entry point 0x5000000 is not inside a loaded segment")

        let kernel = try TestImages.TemporaryFile(Self.vmlinux, name: "vmlinux")
        #expect(failure(kernel.path, initrd: "/nonexistent/initrd") == "initrd /nonexistent/initrd: No such file or directory")
        let huge = try TestImages.TemporaryFile(Array(repeating: 0, count: 63 << 20), name: "huge-initrd")
        #expect(failure(kernel.path, initrd: huge.path) == "initrd \(huge.path): 63 MiB does not fit below 0x4000000 in 64 MiB of RAM")
    }
}
