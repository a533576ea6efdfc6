#if canImport(Glibc)
import Glibc
#endif

/// preadv/pwritev/readv loops over guest buffers lent by `ChainReader`/`ChainWriter`:
/// they retry EINTR and short transfers, and split lists longer than IOV_MAX, so a
/// device sees one outcome per request: every byte moved, or how far it got and why.
enum ScatterIO {
    /// Linux's IOV_MAX (UIO_MAXIOV); Glibc does not export the macro to Swift.
    static let maxVectors = 1024

    struct Outcome: Equatable {
        /// Bytes moved before the end or the error.
        var moved: Int
        /// 0 when all bytes moved, else the errno (EIO for an unexpected end of file).
        var error: Int32
    }

    /// Reads the file at `offset` into `buffers`.
    static func read(_ fd: Int32, into buffers: [UnsafeMutableRawBufferPointer], at offset: Int64) -> Outcome {
        transfer(buffers, at: offset) { vectors, count, position in preadv(fd, vectors, count, position) }
    }

    /// Writes `buffers` to the file at `offset`.
    static func write(_ fd: Int32, from buffers: [UnsafeMutableRawBufferPointer], at offset: Int64) -> Outcome {
        transfer(buffers, at: offset) { vectors, count, position in pwritev(fd, vectors, count, position) }
    }

    /// Reads a stream (e.g. /dev/urandom) into `buffers`.
    static func read(_ fd: Int32, into buffers: [UnsafeMutableRawBufferPointer]) -> Outcome {
        transfer(buffers, at: 0) { vectors, count, _ in readv(fd, vectors, count) }
    }

    private static func transfer(
        _ buffers: [UnsafeMutableRawBufferPointer], at offset: Int64,
        _ call: (UnsafePointer<iovec>, Int32, off_t) -> Int
    ) -> Outcome {
        var vectors = buffers.filter { $0.count > 0 }.map { iovec(iov_base: $0.baseAddress, iov_len: $0.count) }
        var first = 0
        var moved = 0
        while first < vectors.count {
            let count = min(vectors.count - first, maxVectors)
            let result = vectors.withUnsafeBufferPointer { all -> Int in
                guard let base = all.baseAddress else { return 0 }
                return call(base + first, Int32(count), off_t(offset + Int64(moved)))
            }
            if result < 0 {
                if errno == EINTR { continue }
                return Outcome(moved: moved, error: errno)
            }
            if result == 0 { return Outcome(moved: moved, error: EIO) }
            moved += result
            // Step over what moved: whole vectors, then part of one.
            var left = result
            while left > 0, first < vectors.count {
                if left >= vectors[first].iov_len {
                    left -= vectors[first].iov_len
                    first += 1
                } else {
                    vectors[first].iov_base = vectors[first].iov_base.map { $0 + left }
                    vectors[first].iov_len -= left
                    left = 0
                }
            }
        }
        return Outcome(moved: moved, error: 0)
    }
}
