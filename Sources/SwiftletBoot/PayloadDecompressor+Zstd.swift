import CZstd

extension PayloadDecompressor {
    /// libzstd's streaming decoder, for one frame. Kbuild compresses kernels with
    /// `zstd -22 --ultra`, whose 128 MiB window is exactly the decoder's default limit
    /// (ZSTD_WINDOWLOG_LIMIT_DEFAULT = 27); a frame wanting more is refused.
    static func decodeZstd(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> DecodeStatus {
        guard let context = ZSTD_createDCtx() else { return .corrupt("cannot start the zstd decoder") }
        defer { ZSTD_freeDCtx(context) }
        var inBuffer = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        var outBuffer = ZSTD_outBuffer(dst: output.baseAddress, size: output.count, pos: 0)
        while true {
            let before = (inBuffer.pos, outBuffer.pos)
            let hint = ZSTD_decompressStream(context, &outBuffer, &inBuffer)
            if ZSTD_isError(hint) != 0 { return .corrupt(String(cString: ZSTD_getErrorName(hint))) }
            if hint == 0 { return .finished(outBuffer.pos) }  // the frame is complete
            if (inBuffer.pos, outBuffer.pos) == before {
                return outBuffer.pos == outBuffer.size ? .largerThanOutput : .truncated
            }
        }
    }
}
