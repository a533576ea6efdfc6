#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Carries our stdin to whichever device is the guest's console now (the device is
/// rebuilt on every guest reset; this pump lives for the whole process).
///
/// Also keeps the seed's escape hatch: three ^C within a second end swiftlet, since in
/// raw mode a single ^C belongs to the guest.
final class ConsoleInput: Sendable {
    /// Takes host bytes; returns how many it accepted (its FIFO may be full).
    typealias Sink = @Sendable ([UInt8]) -> Int

    private let sink = Mutex<Sink?>(nil)
    private let control: RunControl
    private let interrupts = Mutex<[Double]>([])
    // A pipe that wakes the pump when the console has room again or a new one attaches.
    private let wakeRead: Int32
    private let wakeWrite: Int32

    init(control: RunControl) {
        self.control = control
        var ends: [Int32] = [-1, -1]
        _ = pipe(&ends)
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        _ = fcntl(ends[1], F_SETFL, O_NONBLOCK)
        wakeRead = ends[0]
        wakeWrite = ends[1]
    }

    deinit { close(wakeRead); close(wakeWrite) }

    /// Points input at a new console device (nil while no guest runs).
    func attach(_ newSink: Sink?) {
        sink.withLock { $0 = newSink }
        spaceAvailable()
    }

    /// The console drained some input: wake the pump if it is holding bytes back.
    /// (Non-blocking: a full pipe already holds a wake.)
    @Sendable func spaceAvailable() {
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }

    /// Starts reading stdin on its own thread. EOF just stops the pump: a guest whose
    /// input is /dev/null runs on happily.
    func start(watchForTripleInterrupt: Bool) -> Bool {
        HostThread { [self] in
            var buffer = [UInt8](repeating: 0, count: 256)
            while true {
                let count = read(STDIN_FILENO, &buffer, buffer.count)
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { return }
                var pending = Array(buffer[0..<count])
                if watchForTripleInterrupt && sawThirdInterrupt(in: pending) {
                    control.finish(.signal(SIGINT))
                    return
                }
                deliver(&pending)
            }
        }.startDetached()
    }

    /// Hands `pending` to the console, waiting while its FIFO is full or while no guest
    /// is attached (input typed during a reset waits for the next boot): keystrokes are
    /// held back, never dropped, and stdin is not read meanwhile.
    private func deliver(_ pending: inout [UInt8]) {
        while !pending.isEmpty {
            let taken = sink.withLock { $0 }.map { $0(pending) } ?? 0
            pending.removeFirst(min(max(taken, 0), pending.count))
            if !pending.isEmpty {
                var byte: UInt8 = 0
                _ = read(wakeRead, &byte, 1)
            }
        }
    }

    /// Whether this read completes three ^C (0x03) within one second.
    private func sawThirdInterrupt(in bytes: [UInt8]) -> Bool {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let seconds = Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
        return interrupts.withLock { times in
            for byte in bytes where byte == 0x03 { times.append(seconds) }
            times.removeAll { seconds - $0 > 1.0 }
            return times.count >= 3
        }
    }
}
