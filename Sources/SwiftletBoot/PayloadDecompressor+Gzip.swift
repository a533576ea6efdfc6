import CZlib

extension PayloadDecompressor {
    /// zlib's inflate; windowBits 15 + 32 accepts the gzip wrapper (RFC 1952) and stops at
    /// the end of the first member, so Kbuild's trailing bytes never reach it.
    static func inflateGzip(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> DecodeStatus {
        guard let source = input.baseAddress, let target = output.baseAddress,
            input.count <= UInt32.max, output.count <= UInt32.max
        else { return .corrupt("buffer too large") }
        var stream = z_stream()
        // inflateInit2 is a macro; this is what it expands to.
        guard inflateInit2_(&stream, 15 + 32, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            return .corrupt("inflateInit2 failed")
        }
        defer { inflateEnd(&stream) }
        stream.next_in = UnsafeMutablePointer(mutating: source.assumingMemoryBound(to: Bytef.self))
        stream.avail_in = uInt(input.count)
        stream.next_out = target.assumingMemoryBound(to: Bytef.self)
        stream.avail_out = uInt(output.count)

        let result = inflate(&stream, Z_FINISH)
        switch result {
        case Z_STREAM_END: return .finished(Int(stream.total_out))
        case Z_BUF_ERROR where stream.avail_out == 0: return .largerThanOutput
        case Z_BUF_ERROR: return .truncated
        default: return .corrupt(stream.msg.map { String(cString: $0) } ?? "zlib error \(result)")
        }
    }
}
