#if canImport(Glibc)
import Glibc
#endif

/// Notices a guest stuck in a reboot loop (a kernel that panics with panic=1 at every
/// boot, say), which would otherwise keep a host CPU busy forever.
struct ResetGuard {
    let limit: Int
    let window: Double
    private var times: [Double] = []

    init(limit: Int, window: Double) {
        self.limit = limit
        self.window = window
    }

    /// Records a reset now; returns the line to give up with when there were more than
    /// `limit` in the last `window` seconds.
    mutating func recordReset(at now: Double = ResetGuard.now()) -> String? {
        times.append(now)
        times.removeAll { now - $0 > window }
        guard times.count > limit else { return nil }
        return "the guest reset \(times.count) times in \(Self.seconds(window)) s; giving up"
    }

    static func seconds(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }

    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
