#if canImport(Glibc)
import Glibc
#endif

/// A filesystem AF_UNIX address, for bind(2) and connect(2).
enum UnixSocketAddress {
    /// sun_path holds 108 bytes with the terminating NUL.
    static let maxPathLength = 107

    /// Calls `body` with `path` as a sockaddr; nil if the path does not fit.
    static func with<R>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R? {
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty, bytes.count <= maxPathLength, !bytes.contains(0) else { return nil }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        // Safe: sun_path is 108 bytes and we copy at most 107, leaving the zeroed NUL.
        withUnsafeMutableBytes(of: &address.sun_path) { raw in raw.copyBytes(from: bytes) }
        // Safe: sockaddr_un begins with the sockaddr header, as every socket call expects,
        // and the length passed says how much of it there is.
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }
}
