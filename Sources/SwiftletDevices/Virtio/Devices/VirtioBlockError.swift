#if canImport(Glibc)
import Glibc
#endif

/// Why a disk image could not be opened: the one line a user sees.
public enum VirtioBlockError: Error, Equatable, Sendable, CustomStringConvertible {
    case missing(path: String)
    case notAFileOrBlockDevice(path: String)
    case permissionDenied(path: String, readOnly: Bool)
    case readOnlyFileSystem(path: String)
    case tooSmall(path: String, bytes: UInt64)
    case system(path: String, operation: String, errno: Int32)

    public var description: String {
        switch self {
        case .missing(let path):
            return "disk \(path): no such file"
        case .notAFileOrBlockDevice(let path):
            return "disk \(path): not a regular file or block device"
        case .permissionDenied(let path, let readOnly):
            return "disk \(path): permission denied (opening it \(readOnly ? "read-only" : "read-write"))"
        case .readOnlyFileSystem(let path):
            return "disk \(path): on a read-only file system (use it read-only)"
        case .tooSmall(let path, let bytes):
            return "disk \(path): \(bytes) bytes is smaller than one 512-byte sector"
        case .system(let path, let operation, let errno):
            return "disk \(path): \(operation) failed: \(String(cString: strerror(errno)))"
        }
    }
}
