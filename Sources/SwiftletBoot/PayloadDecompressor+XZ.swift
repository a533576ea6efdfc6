import CLZMA

extension PayloadDecompressor {
    /// Room for the 32 MiB dictionary scripts/xz_wrap.sh asks for, with plenty to spare;
    /// a hostile stream declaring a huge dictionary is refused instead of obeyed.
    static let xzMemoryLimit: UInt64 = 256 << 20

    /// liblzma's .xz decoder. Without LZMA_CONCATENATED it stops at the end of the first
    /// stream, so the size Kbuild appends after it is never taken for stream padding.
    static func decodeXZ(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> DecodeStatus {
        guard let source = input.baseAddress, let target = output.baseAddress else { return .truncated }
        var stream = lzma_stream()  // all zero is LZMA_STREAM_INIT
        guard lzma_stream_decoder(&stream, xzMemoryLimit, 0) == LZMA_OK else {
            return .corrupt("cannot start the xz decoder")
        }
        defer { lzma_end(&stream) }
        stream.next_in = source.assumingMemoryBound(to: UInt8.self)
        stream.avail_in = input.count
        stream.next_out = target.assumingMemoryBound(to: UInt8.self)
        stream.avail_out = output.count

        // With a full output buffer liblzma may still have the index and footer to read,
        // so keep calling until it says something other than "OK, go on".
        var result = LZMA_OK
        while result == LZMA_OK {
            result = lzma_code(&stream, LZMA_FINISH)
        }
        switch result {
        case LZMA_STREAM_END: return .finished(Int(stream.total_out))
        case LZMA_BUF_ERROR where stream.avail_out == 0: return .largerThanOutput
        case LZMA_BUF_ERROR: return .truncated
        case LZMA_MEMLIMIT_ERROR: return .corrupt("needs more than \(humanSize(xzMemoryLimit)) to decode")
        case LZMA_FORMAT_ERROR: return .corrupt("bad format")
        case LZMA_DATA_ERROR: return .corrupt("data error")
        default: return .corrupt("liblzma error \(result.rawValue)")
        }
    }
}
