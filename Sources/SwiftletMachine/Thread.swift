#if canImport(Glibc)
import Glibc
#endif

/// A plain POSIX thread running one closure: vCPUs and the console reader each get one.
/// (Foundation's Thread would do, but costs start-up time we measure.)
final class HostThread: @unchecked Sendable {
    // @unchecked: `handle` is written once by `start` before anyone reads it.
    private var handle = pthread_t()
    private let body: @Sendable () -> Void

    init(_ body: @escaping @Sendable () -> Void) { self.body = body }

    /// Starts the thread; returns false if the system would not make one.
    func start() -> Bool {
        let box = Unmanaged.passRetained(self).toOpaque()
        let result = pthread_create(&handle, nil, { raw in
            guard let raw else { return nil }
            let thread = Unmanaged<HostThread>.fromOpaque(raw).takeRetainedValue()
            thread.body()
            return nil
        }, box)
        if result != 0 { Unmanaged<HostThread>.fromOpaque(box).release() }
        return result == 0
    }

    /// Starts a thread nobody will join (the stdin pump, the signal watcher, a VM's
    /// supervisor): its resources go back to the system when it ends.
    func startDetached() -> Bool {
        guard start() else { return false }
        pthread_detach(handle)
        return true
    }

    /// Sends `signal` to the thread (to kick a vCPU out of KVM_RUN).
    func signal(_ signal: Int32) { pthread_kill(handle, signal) }

    func join() { pthread_join(handle, nil) }
}
