#if canImport(Glibc)
import Glibc
#endif
import CSystem
import Synchronization

/// One thread that waits on many file descriptors with epoll and runs each one's handler
/// when it becomes readable: queue notifications (ioeventfds), a tap, a timer. Device
/// I/O happens here, never on a vCPU thread, as the seed's waker and block thread did.
///
/// Handlers run one at a time on the loop's thread, so a device served only from here
/// needs no lock for its queues.
public final class EventLoop: @unchecked Sendable {
    // @unchecked: `handlers` is behind a Mutex; `epoll` and `stopFD` never change.
    public typealias Handler = @Sendable () -> Void

    private let epoll: Int32
    private let handlers = Mutex<[Int32: Handler]>([:])
    private let stopFD: EventFD

    public init() throws(HostError) {
        let fd = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard fd >= 0 else { throw HostError("epoll_create1") }
        epoll = fd
        stopFD = try EventFD()
        try add(stopFD.descriptor) {}
    }

    deinit { close(epoll) }

    /// Runs `handler` on the loop thread whenever `descriptor` is readable.
    public func add(_ descriptor: Int32, _ handler: @escaping Handler) throws(HostError) {
        handlers.withLock { $0[descriptor] = handler }
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.fd = descriptor
        guard epoll_ctl(epoll, EPOLL_CTL_ADD, descriptor, &event) == 0 else {
            handlers.withLock { _ = $0.removeValue(forKey: descriptor) }
            throw HostError("epoll_ctl(ADD)")
        }
    }

    /// Stops watching `descriptor` (a device that is reset, say). Safe from a handler.
    public func remove(_ descriptor: Int32) {
        _ = epoll_ctl(epoll, EPOLL_CTL_DEL, descriptor, nil)
        handlers.withLock { _ = $0.removeValue(forKey: descriptor) }
    }

    /// Serves events until `stop()`; call on the thread that is to be the loop.
    public func run() {
        var events = [epoll_event](repeating: epoll_event(), count: 32)
        while true {
            let count = epoll_wait(epoll, &events, Int32(events.count), -1)
            if count < 0 {
                if errno == EINTR { continue }
                return
            }
            for event in events.prefix(Int(count)) {
                let descriptor = event.data.fd
                if descriptor == stopFD.descriptor { return }
                if let handler = handlers.withLock({ $0[descriptor] }) { handler() }
            }
        }
    }

    /// Makes `run()` return after the handler it is in, if any.
    public func stop() { stopFD.signal() }
}
