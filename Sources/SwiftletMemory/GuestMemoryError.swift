/// Every way a guest-memory access can go wrong. There is only one: the range is not
/// entirely inside guest RAM. Callers decide whether that fails a request or ends the run.
public enum GuestMemoryError: Error, Equatable, CustomStringConvertible {
    case outOfRange(GuestAddress, count: UInt64)
    case mapFailed(size: UInt64, errno: Int32)

    public var description: String {
        switch self {
        case .outOfRange(let address, let count):
            return "guest range \(address)+0x\(String(count, radix: 16)) is outside guest RAM"
        case .mapFailed(let size, let errno):
            return "cannot map \(size >> 20) MiB of guest RAM (errno \(errno))"
        }
    }
}
