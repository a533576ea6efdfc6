import Testing
@testable import SwiftletBoot

@Suite struct PayloadDecompressorTests {
    static let original = TestImages.sampleData(count: 300_000)

    static func compressed(_ format: PayloadFormat) -> [UInt8] {
        switch format {
        case .gzip: return TestImages.gzip(original)
        case .xz: return TestImages.xz(original)
        case .lz4: return TestImages.lz4Legacy(original)
        case .zstd: return TestImages.zstd(original)
        default: return []
        }
    }

    @Test(arguments: [PayloadFormat.gzip, .xz, .lz4, .zstd])
    func roundTrips(format: PayloadFormat) throws {
        let payload = Self.compressed(format)
        #expect(PayloadFormat(magicOf: payload) == format)
        #expect(payload.count < Self.original.count)
        // Trailing bytes after the stream (a bzImage has them) must not matter.
        let contents = try PayloadDecompressor.decompress(payload)
        #expect(contents == .decompressed(format, Self.original))
    }

    @Test func lz4SpansSeveralBlocks() throws {
        let big = TestImages.sampleData(count: (8 << 20) + 4097)
        let contents = try PayloadDecompressor.decompress(TestImages.lz4Legacy(big))
        #expect(contents == .decompressed(.lz4, big))
    }

    @Test(arguments: [PayloadFormat.gzip, .xz, .lz4, .zstd])
    func refusesAStreamLargerThanItsRecordedSize(format: PayloadFormat) throws {
        var payload = Self.compressed(format)
        // Claim 1000 bytes fewer than the stream holds.
        let lie = Self.original.count - 1000
        payload.replaceSubrange((payload.count - 4)..., with: (0..<4).map { UInt8(truncatingIfNeeded: lie >> (8 * $0)) })
        #expect(throws: DecompressionError.self) { try PayloadDecompressor.decompress(payload) }
        if format != .lz4 {  // LZ4 cannot tell "too big" from "corrupt"
            #expect(throws: DecompressionError.largerThanRecorded(format, recorded: lie)) {
                try PayloadDecompressor.decompress(payload)
            }
        }
    }

    @Test(arguments: [PayloadFormat.gzip, .xz, .lz4, .zstd])
    func refusesTruncatedStreams(format: PayloadFormat) throws {
        let payload = Self.compressed(format)
        // Cut the stream in half, keeping a size trailer so only the stream is short.
        let cut = TestImages.withSize(Array(payload.prefix(payload.count / 2)), size: Self.original.count)
        #expect(throws: DecompressionError.self) { try PayloadDecompressor.decompress(cut) }
    }

    @Test func refusesCorruption() throws {
        var payload = Self.compressed(.gzip)
        for index in 20..<60 { payload[index] ^= 0x5A }
        #expect(throws: DecompressionError.self) { try PayloadDecompressor.decompress(payload) }
    }

    @Test func capsTheOutputBeforeAllocating() throws {
        let payload = Self.compressed(.zstd)
        #expect(throws: DecompressionError.badRecordedSize(UInt64(Self.original.count), limit: 1000)) {
            try PayloadDecompressor.decompress(payload, limit: 1000)
        }
        let zero = TestImages.withSize(Array(payload.dropLast(4)), size: 0)
        #expect(throws: DecompressionError.badRecordedSize(0, limit: PayloadDecompressor.defaultLimit)) {
            try PayloadDecompressor.decompress(zero)
        }
    }

    @Test func reportsFormatsItLeavesToTheKernel() throws {
        #expect(try PayloadDecompressor.decompress([0x42, 0x5A, 0x68, 0x39, 1, 2]) == .unsupported(.bzip2))
        #expect(try PayloadDecompressor.decompress([0x5D, 0x00, 0x00, 0x80, 0]) == .unsupported(.lzma))
        #expect(try PayloadDecompressor.decompress([0x89, 0x4C, 0x5A, 0x4F, 0]) == .unsupported(.lzo))
        #expect(try PayloadDecompressor.decompress([1, 2, 3]) == .unsupported(.unknown))
        #expect(try PayloadDecompressor.decompress([]) == .unsupported(.unknown))
    }

    @Test func passesAnUncompressedELFThrough() throws {
        let elf = TestImages.elf(entry: 0x100_0000, loads: [.init(paddr: 0x100_0000, data: [1])])
        #expect(try PayloadDecompressor.decompress(elf) == .decompressed(.uncompressed, elf))
    }
}
