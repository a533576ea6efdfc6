import CLZ4

extension PayloadDecompressor {
    static let lz4LegacyMagic: UInt32 = 0x184C_2102
    /// Each legacy block decompresses to at most 8 MiB (lib/decompress_unlz4.c).
    static let lz4BlockSize = 8 << 20

    /// The legacy LZ4 frame `lz4 -l` writes: the magic, then blocks of a little-endian u32
    /// compressed length and an LZ4 block. The frame has no end marker, so it ends when
    /// the recorded size is reached, the input runs out, or a zero length appears; a
    /// repeated magic starts a concatenated frame, as in the kernel's own decoder.
    static func decodeLZ4Legacy(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> DecodeStatus {
        guard let source = input.baseAddress, let target = output.baseAddress else { return .truncated }
        let maximumBlock = Int(LZ4_compressBound(Int32(lz4BlockSize)))
        var position = 4  // past the magic, which PayloadFormat has already seen
        var produced = 0
        while produced < output.count {
            guard input.count - position >= 4 else { return .truncated }
            let length = Int(input.loadUnaligned(fromByteOffset: position, as: UInt32.self).littleEndian)
            position += 4
            if length == lz4LegacyMagic { continue }
            if length == 0 { break }
            guard length <= maximumBlock else { return .corrupt("block of \(length) bytes") }
            guard length <= input.count - position else { return .truncated }
            let room = min(lz4BlockSize, output.count - produced)
            let decoded = LZ4_decompress_safe(
                (source + position).assumingMemoryBound(to: CChar.self),
                (target + produced).assumingMemoryBound(to: CChar.self),
                Int32(length), Int32(room))
            // A block that needs more room than is left fails here too: LZ4 cannot tell
            // "corrupt" from "too big for the buffer", and neither matters more.
            guard decoded >= 0 else { return .corrupt("bad block at offset \(position - 4)") }
            produced += Int(decoded)
            position += length
        }
        return .finished(produced)
    }
}
