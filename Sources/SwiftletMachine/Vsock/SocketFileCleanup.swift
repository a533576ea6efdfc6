#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Socket files to remove when the process exits. swiftlet ends with exit(3) while the
/// machine's objects are still alive, so no deinit would run: an atexit handler removes
/// what is still listed (a SIGKILL leaves the file behind; the next run then refuses it,
/// as Firecracker does, rather than take over a path someone may be using).
enum SocketFileCleanup {
    private static let paths = Mutex<Set<String>>([])
    private static let installed = Mutex(false)

    static func register(_ path: String) {
        let install = installed.withLock { installed in
            defer { installed = true }
            return !installed
        }
        if install { atexit { SocketFileCleanup.removeAll() } }
        _ = paths.withLock { $0.insert(path) }
    }

    /// The path was removed by its owner.
    static func forget(_ path: String) {
        _ = paths.withLock { $0.remove(path) }
    }

    private static func removeAll() {
        for path in paths.withLock({ $0 }) { unlink(path) }
    }
}
