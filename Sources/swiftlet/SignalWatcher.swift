#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import SwiftletMachine

/// In API mode, SIGINT, SIGTERM and SIGHUP stop the VM: one thread takes them with sigwait
/// (they are blocked everywhere else) and asks the controller to stop; the exit status
/// then says which signal it was.
final class SignalWatcher: Sendable {
    private let signals: [Int32]
    private let controller: any VMController
    private let first = Mutex<Int32?>(nil)

    init(signals: [Int32], controller: any VMController) {
        self.signals = signals
        self.controller = controller
    }

    /// The first stop signal received, if any.
    var received: Int32? { first.withLock { $0 } }

    func start() -> Bool {
        var thread = pthread_t()
        let box = Unmanaged.passRetained(self).toOpaque()
        let result = pthread_create(&thread, nil, { raw in
            guard let raw else { return nil }
            Unmanaged<SignalWatcher>.fromOpaque(raw).takeRetainedValue().watch()
            return nil
        }, box)
        guard result == 0 else {
            Unmanaged<SignalWatcher>.fromOpaque(box).release()
            return false
        }
        pthread_detach(thread)
        return true
    }

    private func watch() {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
        while true {
            var received: Int32 = 0
            guard sigwait(&set, &received) == 0 else { continue }
            first.withLock { if $0 == nil { $0 = received } }
            controller.stop()
        }
    }
}
