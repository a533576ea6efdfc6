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

    init(control: RunControl) { self.control = control }

    /// Points input at a new console device (nil while no guest runs).
    func attach(_ newSink: Sink?) { sink.withLock { $0 = newSink } }

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
        }.start()
    }

    /// Hands `pending` to the console, waiting while its FIFO is full. The guest drains
    /// the FIFO at its own pace; we look again every few milliseconds rather than drop
    /// keystrokes (the console has no "space available" notification to wait on).
    private func deliver(_ pending: inout [UInt8]) {
        while !pending.isEmpty {
            let taken = sink.withLock { $0 }.map { $0(pending) } ?? pending.count
            pending.removeFirst(min(taken, pending.count))
            if !pending.isEmpty { usleep(5_000) }
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
