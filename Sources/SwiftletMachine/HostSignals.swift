#if canImport(Glibc)
import Glibc
#endif

/// Signals, the lguest way: they never interrupt work at random. SIGINT, SIGTERM and
/// SIGHUP are blocked in every thread and taken by one thread with sigwait, which asks
/// the run to stop in order. SIGUSR1 is the kick that pulls a vCPU out of KVM_RUN.
public enum HostSignals {
    /// The signal that interrupts KVM_RUN; its handler does nothing, the EINTR is the point.
    static let kick = SIGUSR1
    static let stopping: [Int32] = [SIGINT, SIGTERM, SIGHUP]

    /// The front end's policy: stop signals are blocked everywhere and taken by the
    /// watcher thread. Call before any thread starts: threads inherit the mask.
    public static func install() {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in stopping { sigaddset(&set, signal) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
        installKick()

        // A closed stdout (swiftlet | head) must not kill us halfway through a write; the
        // write fails with EPIPE instead and we carry on.
        signal(SIGPIPE, SIG_IGN)
    }

    /// What every VM needs, whatever its front end: the kick that pulls a vCPU out of
    /// KVM_RUN, with a handler that does nothing. Idempotent.
    static func installKick() {
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
    }

    /// Starts the thread that hands each stop signal to `onSignal` (a VM's stop).
    public static func startWatcher(onSignal: @escaping @Sendable (Int32) -> Void) -> Bool {
        HostThread {
            var set = sigset_t()
            sigemptyset(&set)
            for signal in stopping { sigaddset(&set, signal) }
            while true {
                var received: Int32 = 0
                if sigwait(&set, &received) == 0 { onSignal(received) }
            }
        }.startDetached()
    }
}
