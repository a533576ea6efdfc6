#if canImport(Glibc)
import Glibc
#endif

/// Signals, the lguest way: they never interrupt work at random. SIGINT, SIGTERM and
/// SIGHUP are blocked in every thread and taken by one thread with sigwait, which asks
/// the run to stop in order. SIGUSR1 is the kick that pulls a vCPU out of KVM_RUN.
enum HostSignals {
    /// The signal that interrupts KVM_RUN; its handler does nothing, the EINTR is the point.
    static let kick = SIGUSR1
    static let stopping: [Int32] = [SIGINT, SIGTERM, SIGHUP]

    /// Call before any thread starts: threads inherit the mask.
    static func install() {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in stopping { sigaddset(&set, signal) }
        pthread_sigmask(SIG_BLOCK, &set, nil)

        // The kick must get through even if whoever started us left it blocked (a
        // blocked mask is inherited across exec).
        var kickSet = sigset_t()
        sigemptyset(&kickSet)
        sigaddset(&kickSet, kick)
        pthread_sigmask(SIG_UNBLOCK, &kickSet, nil)

        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0  // no SA_RESTART: KVM_RUN must return EINTR
        sigaction(kick, &action, nil)

        // A closed stdout (swiftlet | head) must not kill us halfway through a write; the
        // write fails with EPIPE instead and we carry on.
        signal(SIGPIPE, SIG_IGN)
    }

    /// Starts the thread that turns stop signals into `control.finish(.signal(n))`.
    static func startWatcher(control: RunControl) -> Bool {
        HostThread {
            var set = sigset_t()
            sigemptyset(&set)
            for signal in stopping { sigaddset(&set, signal) }
            while true {
                var received: Int32 = 0
                if sigwait(&set, &received) == 0 { control.finish(.signal(received)) }
            }
        }.start()
    }
}
