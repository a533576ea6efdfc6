import CLZ4
import CLZMA
import CZlib
import CZstd
import Foundation

/// Builders for the files the loader reads: small ELF64 kernels, bzImages around a payload,
/// and payloads compressed the way Kbuild compresses them, all made in-process.
enum TestImages {
    struct Load {
        var paddr: UInt64
        var data: [UInt8]
        var memsz: UInt64? = nil
        var offset: UInt64? = nil  // overrides where the header says the data is
        var type: UInt32 = 1
    }

    /// An ELF64 x86-64 executable with one program header per `Load`, data after the table.
    static func elf(
        entry: UInt64, loads: [Load], elfClass: UInt8 = 2, machine: UInt16 = 62,
        phoff: UInt64 = 64, phentsize: UInt16 = 56
    ) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 64 + loads.count * 56)
        func put<T: FixedWidthInteger>(_ value: T, _ at: Int) {
            for i in 0..<MemoryLayout<T>.size { bytes[at + i] = UInt8(truncatingIfNeeded: value >> (8 * i)) }
        }
        bytes.replaceSubrange(0..<4, with: [0x7F, 0x45, 0x4C, 0x46])
        bytes[4] = elfClass; bytes[5] = 1; bytes[6] = 1
        put(UInt16(2), 0x10); put(machine, 0x12); put(UInt32(1), 0x14)
        put(entry, 0x18); put(phoff, 0x20); put(UInt16(64), 0x34)
        put(phentsize, 0x36); put(UInt16(loads.count), 0x38)
        var dataOffset = bytes.count
        var blobs: [UInt8] = []
        for (index, load) in loads.enumerated() {
            let at = 64 + index * 56
            put(load.type, at); put(UInt32(7), at + 4)
            put(load.offset ?? UInt64(dataOffset), at + 0x08)
            put(load.paddr | 0xFFFF_FFFF_8000_0000, at + 0x10)  // vaddr, as vmlinux has it
            put(load.paddr, at + 0x18)
            put(UInt64(load.data.count), at + 0x20)
            put(load.memsz ?? UInt64(load.data.count), at + 0x28)
            blobs += load.data
            dataOffset += load.data.count
        }
        return bytes + blobs
    }

    /// A bzImage: boot sector and `setupSectors` of setup with a 2.15 header, then the
    /// protected-mode code: 0x200 bytes of "decompressor", the payload, and a little tail.
    static func bzImage(
        payload: [UInt8], setupSectors: UInt8 = 3, version: UInt16 = 0x020F, xloadflags: UInt16 = 0x03,
        bootFlag: UInt16 = 0xAA55, cmdlineSize: UInt32 = 2048, initrdAddrMax: UInt32 = 0x7FFF_FFFF,
        prefAddress: UInt64 = 0x100_0000, initSize: UInt32 = 0x80_0000
    ) -> [UInt8] {
        let setupSize = (Int(setupSectors == 0 ? 4 : setupSectors) + 1) * 512
        var bytes = [UInt8](repeating: 0, count: setupSize)
        func put<T: FixedWidthInteger>(_ value: T, _ at: Int) {
            for i in 0..<MemoryLayout<T>.size { bytes[at + i] = UInt8(truncatingIfNeeded: value >> (8 * i)) }
        }
        put(setupSectors, 0x1F1); put(bootFlag, 0x1FE)
        put(UInt8(0xEB), 0x200); put(UInt8(0x6A), 0x201)  // header ends at 0x26c
        put(UInt32(0x5372_6448), 0x202); put(version, 0x206)
        put(UInt8(0x01), 0x211); put(UInt32(0x10_0000), 0x214)
        put(initrdAddrMax, 0x22C); put(UInt32(0x20_0000), 0x230); put(UInt8(1), 0x234)
        put(xloadflags, 0x236); put(cmdlineSize, 0x238)
        put(UInt32(0x200), 0x248); put(UInt32(payload.count), 0x24C)
        put(prefAddress, 0x258); put(initSize, 0x260)
        bytes[0x26C] = 0x99  // start_of_setup: must not be copied into boot_params
        let decompressor = [UInt8](repeating: 0x90, count: 0x200)
        return bytes + decompressor + payload + [0xC3, 0xC3, 0xC3, 0xC3]
    }

    /// Kbuild's size_append: the uncompressed size, little-endian, after the stream.
    static func withSize(_ stream: [UInt8], size: Int) -> [UInt8] {
        stream + (0..<4).map { UInt8(truncatingIfNeeded: size >> (8 * $0)) }
    }

    static func gzip(_ input: [UInt8]) -> [UInt8] {
        var stream = z_stream()
        _ = deflateInit2_(&stream, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(input.count))) + 64)
        var input = input
        let produced = input.withUnsafeMutableBytes { source in
            output.withUnsafeMutableBytes { target in
                stream.next_in = source.baseAddress?.assumingMemoryBound(to: Bytef.self)
                stream.avail_in = uInt(source.count)
                stream.next_out = target.baseAddress?.assumingMemoryBound(to: Bytef.self)
                stream.avail_out = uInt(target.count)
                _ = deflate(&stream, Z_FINISH)
                return Int(stream.total_out)
            }
        }
        return Array(output.prefix(produced))  // gzip's own ISIZE trailer is the size
    }

    static func xz(_ input: [UInt8]) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: input.count + 4096)
        var position = 0
        _ = input.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { target in
                lzma_easy_buffer_encode(
                    6, LZMA_CHECK_CRC32, nil, source.baseAddress, source.count,
                    target.baseAddress, &position, target.count)
            }
        }
        return withSize(Array(output.prefix(position)), size: input.count)
    }

    /// `lz4 -l`: the legacy magic, then [u32 length][block] per 8 MiB of input.
    static func lz4Legacy(_ input: [UInt8]) -> [UInt8] {
        var output: [UInt8] = [0x02, 0x21, 0x4C, 0x18]
        let blockSize = 8 << 20
        for start in stride(from: 0, to: input.count, by: blockSize) {
            let chunk = Array(input[start..<min(start + blockSize, input.count)])
            var block = [UInt8](repeating: 0, count: Int(LZ4_compressBound(Int32(chunk.count))))
            let length = chunk.withUnsafeBufferPointer { source in
                block.withUnsafeMutableBufferPointer { target in
                    source.withMemoryRebound(to: CChar.self) { source in
                        target.withMemoryRebound(to: CChar.self) { target in
                            LZ4_compress_default(source.baseAddress, target.baseAddress, Int32(source.count), Int32(target.count))
                        }
                    }
                }
            }
            output += withSize([], size: Int(length)) + block.prefix(Int(length))
        }
        return withSize(output, size: input.count)
    }

    static func zstd(_ input: [UInt8]) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: ZSTD_compressBound(input.count))
        let length = input.withUnsafeBytes { source in
            output.withUnsafeMutableBytes { target in
                ZSTD_compress(target.baseAddress, target.count, source.baseAddress, source.count, 19)
            }
        }
        return withSize(Array(output.prefix(length)), size: input.count)
    }

    /// Some bytes that compress, but not to nothing.
    static func sampleData(count: Int) -> [UInt8] {
        var state: UInt32 = 12345
        return (0..<count).map { index in
            state = state &* 1_103_515_245 &+ 12345
            return index % 16 == 0 ? UInt8(truncatingIfNeeded: state >> 16) : UInt8(truncatingIfNeeded: index / 7)
        }
    }

    /// A temporary file holding `bytes`; removed when the test's scope ends.
    final class TemporaryFile {
        let path: String
        init(_ bytes: [UInt8], name: String = "file") throws {
            path = NSTemporaryDirectory() + "swiftlet-boot-\(UUID().uuidString)-\(name)"
            try Data(bytes).write(to: URL(fileURLWithPath: path))
        }
        deinit { try? FileManager.default.removeItem(atPath: path) }
    }
}
