#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import SwiftletDevices

/// How a boot of the guest ended.
public enum RunOutcome: Sendable, Equatable {
    /// The guest powered off (ACPI S5): swiftlet exits 0.
    case powerOff
    /// The guest asked for a reset: boot it again with fresh memory.
    case reset
    /// Something the VMM cannot continue past; the text is the one line for the user.
    case failure(String)
    /// A signal asked us to stop.
    case signal(Int32)
    /// The guest kernel reported a panic through pvpanic: swiftlet exits 3.
    case guestPanic
}

/// The one place a run's end is decided. Devices ask through `MachineControl`, vCPU
/// threads report failures, the signal thread reports signals: the first word wins, and
/// the main thread, asleep in `wait()`, wakes to stop the vCPUs and act on it.
public final class RunControl: MachineControl, @unchecked Sendable {
    // @unchecked: `outcome` is behind a Mutex and `wakeFD` is an immutable descriptor.
    private let outcome = Mutex<RunOutcome?>(nil)
    // A pipe: `finish` writes a byte, `wait` reads one. Any thread may finish; only the
    // main thread waits.
    private let wakeRead: Int32
    private let wakeWrite: Int32

    public init() {
        var ends: [Int32] = [-1, -1]
        _ = pipe(&ends)
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        wakeRead = ends[0]
        wakeWrite = ends[1]
    }

    deinit { close(wakeRead); close(wakeWrite) }

    public func request(_ request: MachineRequest) {
        switch request {
        case .powerOff: finish(.powerOff)
        case .reset: finish(.reset)
        }
    }

    /// Records `result` unless the run already has one, and wakes `wait()`.
    public func finish(_ result: RunOutcome) {
        let first = outcome.withLock { current in
            guard current == nil else { return false }
            current = result
            return true
        }
        if first {
            var byte: UInt8 = 1
            _ = write(wakeWrite, &byte, 1)
        }
    }

    /// Whether the run has an outcome: vCPU loops check this after every exit.
    public var isFinished: Bool { outcome.withLock { $0 != nil } }

    /// Blocks until some thread calls `finish`, then returns what it said.
    public func wait() -> RunOutcome {
        var byte: UInt8 = 0
        while true {
            if let result = outcome.withLock({ $0 }) { return result }
            _ = read(wakeRead, &byte, 1)  // a wake, or EINTR: look again
        }
    }

    /// Forgets the last outcome so the next boot starts clean.
    public func rearm() {
        outcome.withLock { $0 = nil }
        // Drain the wake byte the ended boot left, if `wait` did not take it.
        var byte: UInt8 = 0
        var poller = pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)
        while poll(&poller, 1, 0) > 0 { _ = read(wakeRead, &byte, 1) }
    }
}
