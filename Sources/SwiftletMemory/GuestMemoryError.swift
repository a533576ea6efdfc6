/// Every way guest memory can go wrong. A guest can cause only the first: a range not
/// entirely inside guest RAM; callers decide whether that fails a request or ends the
/// run. The others come from setting the memory up.
public enum GuestMemoryError: Error, Equatable, CustomStringConvertible {
    case outOfRange(GuestAddress, count: UInt64)
    case mapFailed(size: UInt64, errno: Int32)
    /// A memory file to map guest RAM from could not be opened or examined.
    case fileFailed(path: String, operation: String, errno: Int32)
    /// A memory file is not the size of the RAM it should hold.
    case fileSizeMismatch(path: String, expected: UInt64, actual: UInt64)

    public var description: String {
        switch self {
        case .outOfRange(let address, let count):
            return "guest range \(address)+0x\(String(count, radix: 16)) is outside guest RAM"
        case .mapFailed(let size, let errno):
            return "cannot map \(size >> 20) MiB of guest RAM (errno \(errno))"
        case .fileFailed(let path, let operation, let errno):
            return "cannot \(operation) memory file \(path) (errno \(errno))"
        case .fileSizeMismatch(let path, let expected, let actual):
            return "memory file \(path) holds \(actual) bytes, not the \(expected) bytes of guest RAM"
        }
    }
}
