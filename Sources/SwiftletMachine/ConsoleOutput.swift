#if canImport(Glibc)
import Glibc
#endif

/// The guest's console output on its way to a file descriptor (our stdout), through a
/// bounded buffer and a writer thread of its own: the 8250 and the virtio console write
/// from vCPU and device threads, and a stdout that stops reading (a paused terminal, a
/// full pipe) must never stall them. When the buffer is full the newest bytes are dropped
/// and counted, and the run's end says how many. A reader that went away (EPIPE) loses
/// the output but never stops the guest.
final class ConsoleOutput: @unchecked Sendable {
    // @unchecked: `buffer`, `inFlight`, `dropped` and `started` are read and written with `mutex` held;
    // `sink` and `capacity` never change.
    /// Writes one chunk, blocking as long as it must (it runs on the writer thread).
    private let sink: @Sendable ([UInt8]) -> Void
    private let capacity: Int
    private var mutex = pthread_mutex_t()
    private var changed = pthread_cond_t()
    private var buffer: [UInt8] = []
    /// Bytes the writer thread has taken but not finished writing.
    private var inFlight = 0
    private var dropped = 0
    private var started = false

    convenience init(fd: Int32 = STDOUT_FILENO, capacity: Int = 1 << 20) {
        self.init(capacity: capacity) { Self.writeWhole($0, to: fd) }
    }

    /// Output to `sink` (tests hand in one that blocks until they let it go).
    init(capacity: Int, sink: @escaping @Sendable ([UInt8]) -> Void) {
        self.sink = sink
        self.capacity = capacity
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&changed, nil)
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body()
    }

    /// Queues `bytes` for the writer; never blocks on the descriptor. What does not fit is
    /// dropped and counted.
    @Sendable func write(_ bytes: [UInt8]) {
        let startWriter = locked { () -> Bool in
            let room = max(capacity - buffer.count, 0)
            buffer += bytes.prefix(room)
            dropped += max(bytes.count - room, 0)
            pthread_cond_broadcast(&changed)
            defer { started = true }
            return !started
        }
        if startWriter && !HostThread({ [self] in writerLoop() }).startDetached() {
            // No thread to write with: write here rather than lose everything.
            locked { started = false }
            drainHere()
        }
    }

    /// Waits until everything queued is written, or `seconds` pass (a stdout nobody
    /// reads would otherwise hold the process forever). Returns the bytes dropped so far.
    @discardableResult
    func flush(within seconds: Int) -> Int {
        var deadline = timespec()
        clock_gettime(CLOCK_REALTIME, &deadline)
        deadline.tv_sec += seconds
        return locked {
            while !(buffer.isEmpty && inFlight == 0) {
                if pthread_cond_timedwait(&changed, &mutex, &deadline) == ETIMEDOUT { break }
            }
            return dropped
        }
    }

    /// Bytes dropped because the buffer was full.
    var droppedCount: Int { locked { dropped } }

    private func writerLoop() {
        while true {
            let chunk = locked { () -> [UInt8] in
                while buffer.isEmpty { pthread_cond_wait(&changed, &mutex) }
                defer { buffer.removeAll(keepingCapacity: true) }
                inFlight = buffer.count
                return buffer
            }
            sink(chunk)
            locked {
                inFlight = 0
                pthread_cond_broadcast(&changed)
            }
        }
    }

    private func drainHere() {
        let chunk = locked { () -> [UInt8] in
            defer { buffer.removeAll() }
            return buffer
        }
        sink(chunk)
    }

    /// Writes all of `bytes` to `fd` (blocking: this is the writer's own thread), or gives
    /// up on an error other than EINTR (a reader that went away: EPIPE).
    private static func writeWhole(_ bytes: [UInt8], to fd: Int32) {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = Glibc.write(fd, raw.baseAddress.map { $0 + offset }, raw.count - offset)
                if written > 0 {
                    offset += written
                } else if written < 0 && errno == EINTR {
                    continue
                } else {
                    return
                }
            }
        }
    }
}
