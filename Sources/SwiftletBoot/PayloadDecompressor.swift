/// What a bzImage payload turned out to hold.
public enum PayloadContents: Equatable, Sendable {
    /// The uncompressed payload: an ELF vmlinux, if the kernel was built as usual.
    case decompressed(PayloadFormat, [UInt8])
    /// A format Swiftlet does not decompress; the loader falls back to letting the
    /// kernel's own decompressor do it.
    case unsupported(PayloadFormat)
}

/// Decompresses bzImage payloads on the host with the system's libraries, so the guest
/// can start in the kernel proper instead of emulating a decompressor for seconds.
///
/// Kbuild appends the uncompressed size to every payload as a little-endian u32
/// (`size_append` in scripts/Makefile.lib; gzip's ISIZE trailer is the same thing). It
/// sizes the output here, and no stream may produce more: a hostile file can claim at most
/// `limit` bytes and get no more than it claimed.
public enum PayloadDecompressor {
    /// No sane kernel comes near this; a file claiming more is refused before allocating.
    public static let defaultLimit = 512 << 20

    public static func decompress(_ payload: [UInt8], limit: Int = defaultLimit) throws(DecompressionError) -> PayloadContents {
        let format = PayloadFormat(magicOf: payload)
        guard format.isSupported else { return .unsupported(format) }
        if format == .uncompressed { return .decompressed(format, payload) }

        guard let recorded = payload.u32(at: payload.count - 4) else { throw .tooShort }
        guard recorded > 0, recorded <= limit else { throw .badRecordedSize(UInt64(recorded), limit: limit) }

        var output = [UInt8](repeating: 0, count: Int(recorded))
        let status = payload.withUnsafeBytes { input in
            output.withUnsafeMutableBytes { output in
                switch format {
                case .gzip: return inflateGzip(input, into: output)
                case .xz: return decodeXZ(input, into: output)
                case .lz4: return decodeLZ4Legacy(input, into: output)
                case .zstd: return decodeZstd(input, into: output)
                default: return .corrupt("no decoder")
                }
            }
        }
        switch status {
        case .finished(let produced):
            output.removeLast(output.count - produced)
            return .decompressed(format, output)
        case .largerThanOutput: throw .largerThanRecorded(format, recorded: Int(recorded))
        case .truncated: throw .truncated(format)
        case .corrupt(let detail): throw .corrupt(format, detail: detail)
        }
    }

    /// How one decoder run ended; kept free of throwing so it can live inside the
    /// buffer-borrowing closures.
    enum DecodeStatus: Equatable {
        /// The stream ended after producing this many bytes.
        case finished(Int)
        case largerThanOutput
        case truncated
        case corrupt(String)
    }
}
