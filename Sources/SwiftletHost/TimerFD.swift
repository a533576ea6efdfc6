#if canImport(Glibc)
import Glibc
#endif
import CSystem

/// A timerfd on CLOCK_MONOTONIC: readable once its deadline passes, so a timeout is one
/// more descriptor in the event loop rather than a thread.
public final class TimerFD: Sendable {
    public let descriptor: Int32

    public init() throws(HostError) {
        let fd = timerfd_create(CLOCK_MONOTONIC, Int32(TFD_CLOEXEC | TFD_NONBLOCK))
        guard fd >= 0 else { throw HostError("timerfd_create") }
        descriptor = fd
    }

    deinit { close(descriptor) }

    /// Milliseconds on CLOCK_MONOTONIC: the clock `arm(at:)` counts in.
    public static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1000 + UInt64(time.tv_nsec) / 1_000_000
    }

    /// Fires once at `deadline` (milliseconds, `now()`'s clock; a past one fires at
    /// once), or never with nil.
    public func arm(at deadline: UInt64?) {
        var spec = itimerspec()
        if let deadline {
            // 0 would disarm: a deadline of 0 ms is long past, so 1 ns does as well.
            let clamped = max(deadline, 0)
            spec.it_value.tv_sec = Int(clamped / 1000)
            spec.it_value.tv_nsec = Int(clamped % 1000) * 1_000_000
            if spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0 { spec.it_value.tv_nsec = 1 }
        }
        _ = timerfd_settime(descriptor, Int32(TFD_TIMER_ABSTIME), &spec, nil)
    }

    /// Takes the expiry count so the descriptor stops being readable.
    public func drain() {
        var count: UInt64 = 0
        _ = read(descriptor, &count, 8)
    }
}
