#if canImport(Glibc)
import Glibc
#endif

/// Deallocating and zeroing file ranges for discard and write-zeroes (virtio 1.2
/// section 5.2.6). fallocate(2) is the tool, but Swift's Glibc module hides it (it sits
/// behind _GNU_SOURCE), so we look the symbol up in libc once; where that or the file
/// system fails us, zeroes are written by hand, which is always correct, only slower.
enum FileSpace {
    // <linux/falloc.h>: stable kernel ABI.
    static let keepSize: Int32 = 0x01
    static let punchHole: Int32 = 0x02
    static let zeroRange: Int32 = 0x10

    private typealias Fallocate = @convention(c) (Int32, Int32, Int64, Int64) -> Int32

    private static let fallocateFunction: Fallocate? = {
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "fallocate") else { return nil }
        return unsafeBitCast(symbol, to: Fallocate.self)
    }()

    /// Whether libc's fallocate was found (for --verbose).
    static var hasFallocate: Bool { fallocateFunction != nil }

    /// Makes [offset, offset + length) read as zeroes: by `mode` (PUNCH_HOLE|KEEP_SIZE or
    /// ZERO_RANGE|KEEP_SIZE) when the file system can, else by writing zeroes. Returns 0
    /// or an errno.
    static func zero(_ fd: Int32, offset: Int64, length: Int64, mode: Int32) -> Int32 {
        guard length > 0 else { return 0 }
        if let fallocate = fallocateFunction {
            while true {
                if fallocate(fd, mode, offset, length) == 0 { return 0 }
                let error = errno
                if error == EINTR { continue }
                // Only "this file system cannot": anything else is a real failure.
                guard error == EOPNOTSUPP || error == ENOSYS || error == EINVAL else { return error }
                break
            }
        }
        return writeZeroes(fd, offset: offset, length: length)
    }

    private static func writeZeroes(_ fd: Int32, offset: Int64, length: Int64) -> Int32 {
        let chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var done: Int64 = 0
        while done < length {
            let count = Int(min(Int64(chunk.count), length - done))
            let result = chunk.withUnsafeBytes { pwrite(fd, $0.baseAddress, count, off_t(offset + done)) }
            if result < 0 {
                if errno == EINTR { continue }
                return errno
            }
            if result == 0 { return EIO }
            done += Int64(result)
        }
        return 0
    }
}
