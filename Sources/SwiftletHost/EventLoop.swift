#if canImport(Glibc)
import Glibc
#endif
import CSystem
import Synchronization

/// One thread that waits on many file descriptors with epoll and runs each one's handler
/// when it becomes ready: queue notifications (ioeventfds), a tap, a timer, sockets. Device
/// I/O happens here, never on a vCPU thread, as the seed's waker and block thread did.
///
/// Handlers run one at a time on the loop's thread, so a device served only from here
/// needs no lock for its queues.
///
/// Removal is safe at any time, from any thread or handler: each registration carries a
/// token of its own in the epoll event, so an event already fetched for a descriptor that
/// was removed (and perhaps closed, and its number reused by a new registration) finds no
/// handler and is skipped, never handed to the newcomer.
public final class EventLoop: @unchecked Sendable {
    // @unchecked: `state` is behind a Mutex; `epoll` and `stopFD` never change.
    public typealias Handler = @Sendable () -> Void
    /// Told which readiness woke it.
    public typealias ReadinessHandler = @Sendable (Readiness) -> Void

    /// What a handler wants to hear about, and what it is told.
    public struct Readiness: OptionSet, Sendable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// Bytes to read, end-of-file, or an error (a read tells which).
        public static let readable = Readiness(rawValue: 1)
        /// Room to write, or an error (a write tells which).
        public static let writable = Readiness(rawValue: 2)
    }

    private struct Registration {
        var token: UInt64
        var handler: ReadinessHandler
    }

    private struct State {
        var registrations: [Int32: Registration] = [:]
        /// Each live token's descriptor.
        var descriptors: [UInt64: Int32] = [:]
        var nextToken: UInt64 = 1
    }

    private let epoll: Int32
    private let state = Mutex(State())
    private let stopFD: EventFD
    /// The stop eventfd's token; no registration ever gets 0.
    private static let stopToken: UInt64 = 0

    public init() throws(HostError) {
        let fd = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard fd >= 0 else { throw HostError("epoll_create1") }
        epoll = fd
        stopFD = try EventFD()
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.u64 = Self.stopToken
        guard epoll_ctl(epoll, EPOLL_CTL_ADD, stopFD.descriptor, &event) == 0 else {
            let error = HostError("epoll_ctl(ADD)")
            close(fd)
            throw error
        }
    }

    deinit { close(epoll) }

    /// Runs `handler` on the loop thread whenever `descriptor` is readable.
    public func add(_ descriptor: Int32, _ handler: @escaping Handler) throws(HostError) {
        try watch(descriptor, for: .readable) { _ in handler() }
    }

    /// Runs `handler` whenever `descriptor` is ready for any of `interest`; a descriptor
    /// already watched gets the new interest and handler (events for the old one that are
    /// already fetched still reach the new handler, which must cope with a spurious call,
    /// as any handler of a non-blocking descriptor does). An empty interest removes it.
    public func watch(_ descriptor: Int32, for interest: Readiness, _ handler: @escaping ReadinessHandler) throws(HostError) {
        guard !interest.isEmpty else {
            remove(descriptor)
            return
        }
        var event = epoll_event()
        event.events = (interest.contains(.readable) ? EPOLLIN.rawValue : 0)
            | (interest.contains(.writable) ? EPOLLOUT.rawValue : 0)
        let result: Result<Void, HostError> = state.withLock { state in
            let existing = state.registrations[descriptor]
            let token = existing?.token ?? state.nextToken
            if existing == nil { state.nextToken += 1 }
            event.data.u64 = token
            // Under the lock, so a concurrent remove cannot slip between the two.
            guard epoll_ctl(epoll, existing == nil ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, descriptor, &event) == 0 else {
                return .failure(HostError(existing == nil ? "epoll_ctl(ADD)" : "epoll_ctl(MOD)"))
            }
            state.registrations[descriptor] = Registration(token: token, handler: handler)
            state.descriptors[token] = descriptor
            return .success(())
        }
        try result.get()
    }

    /// Stops watching `descriptor` (a device that is reset, say). Safe from a handler and
    /// from other threads; call it before closing the descriptor.
    public func remove(_ descriptor: Int32) {
        state.withLock { state in
            guard let registration = state.registrations.removeValue(forKey: descriptor) else { return }
            state.descriptors[registration.token] = nil
            _ = epoll_ctl(epoll, EPOLL_CTL_DEL, descriptor, nil)
        }
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
                let token = event.data.u64
                if token == Self.stopToken { return }
                // The handler is looked up per event, so one removed by an earlier handler
                // in this batch is not run.
                let handler = state.withLock { state in
                    state.descriptors[token].flatMap { state.registrations[$0]?.handler }
                }
                guard let handler else { continue }
                var readiness: Readiness = []
                let bits = event.events
                if bits & (EPOLLIN.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue | EPOLLRDHUP.rawValue) != 0 {
                    readiness.insert(.readable)
                }
                if bits & (EPOLLOUT.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 { readiness.insert(.writable) }
                handler(readiness)
            }
        }
    }

    /// Makes `run()` return after the handler it is in, if any.
    public func stop() { stopFD.signal() }
}
