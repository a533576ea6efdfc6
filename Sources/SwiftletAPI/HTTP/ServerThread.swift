#if canImport(Glibc)
import Glibc
#endif

/// A plain POSIX thread for the server's loop (SwiftletMachine's own thread type is not
/// public, and Foundation's is not linked).
final class ServerThread: @unchecked Sendable {
    // @unchecked: `handle` is written once by `start`, read by `join` after it.
    private var handle = pthread_t()
    private let body: @Sendable () -> Void

    init(_ body: @escaping @Sendable () -> Void) { self.body = body }

    func start() -> Bool {
        let box = Unmanaged.passRetained(self).toOpaque()
        let result = pthread_create(&handle, nil, { raw in
            guard let raw else { return nil }
            Unmanaged<ServerThread>.fromOpaque(raw).takeRetainedValue().body()
            return nil
        }, box)
        if result != 0 { Unmanaged<ServerThread>.fromOpaque(box).release() }
        return result == 0
    }

    func join() { pthread_join(handle, nil) }
}
