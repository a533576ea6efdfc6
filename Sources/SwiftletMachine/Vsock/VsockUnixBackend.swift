#if canImport(Glibc)
import Glibc
#endif
import CSystem
import Synchronization
import SwiftletDevices
import SwiftletHost

/// Firecracker's host side of vsock: Unix sockets, no vhost and no host CIDs.
///
/// - A host program connects to `path` and writes `CONNECT <port>\n`; the guest is asked
///   (REQUEST) and, once it answers, the program reads `OK <host port>\n` and then the
///   stream. A line that never comes is dropped after `connectLineTimeout`.
/// - A guest connecting to host port P reaches whoever listens on `<path>_P`; nobody
///   there is an RST.
///
/// The listening socket lives as long as this object (the machine), across guest resets;
/// each boot attaches it to its event loop and device, and detaching closes every stream
/// (the device's reset has closed them already). Everything is non-blocking.
///
/// Threading: `VsockBackend` calls come from the device under its lock; the loop's
/// handlers reach the device through `perform`, which takes that lock. `streams` has its
/// own lock, always taken after the device's; `pending` is the loop thread's.
package final class VsockUnixBackend: VsockBackend, @unchecked Sendable {
    /// Runs `body` on the device under its lock and interrupts the receive queue if it
    /// says so (set by the machine's wiring, once per boot).
    package typealias Perform = @Sendable (_ body: (VirtioVsock) throws(VirtqueueError) -> Bool) -> Void

    package static let defaultConnectLineTimeout: UInt64 = 5_000
    /// Host connections still writing their CONNECT line at most; more are closed at once.
    static let maxPending = 64

    package let path: String
    private let listener: Int32
    private let connectLineTimeout: UInt64
    /// The clock the device's deadlines are on (so `deviceTimer` can be armed by them).
    package let clock: @Sendable () -> UInt64 = { TimerFD.now() }

    private let deviceTimer: TimerFD
    private let lineTimer: TimerFD
    private let delivery: EventFD

    private struct Attachment {
        weak var loop: EventLoop?
        var perform: Perform?
    }
    private let attachment = Mutex(Attachment())

    private struct Streams {
        var descriptors: [VsockStreamID: Int32] = [:]
        var next: VsockStreamID = 1
    }
    private let streams = Mutex(Streams())

    private struct Pending {
        var line: [UInt8] = []
        let deadline: UInt64
    }
    private let pending = Mutex<[Int32: Pending]>([:])
    private let closed = Mutex(false)

    /// Creates and listens on `path`; an existing file there is refused (a stale socket
    /// from an earlier run must be removed by whoever knows it is stale).
    package init(path: String, connectLineTimeout: UInt64 = defaultConnectLineTimeout) throws(VsockSocketError) {
        self.path = path
        self.connectLineTimeout = connectLineTimeout
        // `<path>_<port>` must fit as well, for guest-initiated connections.
        guard path.utf8.count + 11 <= UnixSocketAddress.maxPathLength else {
            throw VsockSocketError(path: path, detail: "path too long for a Unix socket (with _<port> appended)")
        }
        var info = stat()
        if lstat(path, &info) == 0 { throw VsockSocketError(path: path, detail: "already exists; remove it first") }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .failed(path, "socket") }
        let bound = UnixSocketAddress.with(path) { address, length in bind(fd, address, length) }
        guard bound == 0 else {
            let error = VsockSocketError.failed(path, "bind", errno: bound == nil ? ENAMETOOLONG : errno)
            Glibc.close(fd)
            throw error
        }
        guard listen(fd, 128) == 0 else {
            let error = VsockSocketError.failed(path, "listen")
            Glibc.close(fd)
            unlink(path)
            throw error
        }
        listener = fd
        SocketFileCleanup.register(path)
        do {
            deviceTimer = try TimerFD()
            lineTimer = try TimerFD()
            delivery = try EventFD()
        } catch {
            Glibc.close(fd)
            unlink(path)
            SocketFileCleanup.forget(path)
            throw .failed(path, error.call, errno: error.errno)
        }
    }

    deinit { close() }

    /// Stops listening and removes the socket file. Idempotent.
    package func close() {
        let wasClosed = closed.withLock { closed in
            defer { closed = true }
            return closed
        }
        guard !wasClosed else { return }
        detach()
        Glibc.close(listener)
        unlink(path)
        SocketFileCleanup.forget(path)
    }

    // MARK: Attaching to a boot

    /// Serves host connections on `loop` for the device `perform` reaches.
    package func attach(loop: EventLoop, perform: @escaping Perform) throws(HostError) {
        detach()
        attachment.withLock {
            $0.loop = loop
            $0.perform = perform
        }
        try loop.add(listener) { [weak self] in self?.acceptAll() }
        try loop.add(deviceTimer.descriptor) { [weak self] in
            guard let self else { return }
            deviceTimer.drain()
            run { device throws(VirtqueueError) in try device.expire() }
        }
        try loop.add(lineTimer.descriptor) { [weak self] in
            self?.lineTimer.drain()
            self?.expirePending()
        }
        try loop.add(delivery.descriptor) { [weak self] in
            guard let self else { return }
            delivery.drain()
            run { device throws(VirtqueueError) in try device.deliverPending() }
        }
    }

    /// Leaves the loop: closes half-made host connections and any stream left open.
    package func detach() {
        let loop = attachment.withLock { attachment -> EventLoop? in
            defer { attachment = Attachment() }
            return attachment.loop
        }
        for fd in [listener, deviceTimer.descriptor, lineTimer.descriptor, delivery.descriptor] { loop?.remove(fd) }
        for fd in pending.withLock({ pending in defer { pending = [:] }; return Array(pending.keys) }) {
            loop?.remove(fd)
            Glibc.close(fd)
        }
        for fd in streams.withLock({ streams in defer { streams.descriptors = [:] }; return Array(streams.descriptors.values) }) {
            loop?.remove(fd)
            Glibc.close(fd)
        }
        deviceTimer.arm(at: nil)
        lineTimer.arm(at: nil)
    }

    private var loop: EventLoop? { attachment.withLock { $0.loop } }

    /// Runs `body` on the device, if one is attached; false if none is.
    @discardableResult
    private func run(_ body: (VirtioVsock) throws(VirtqueueError) -> Bool) -> Bool {
        guard let perform = attachment.withLock({ $0.perform }) else { return false }
        var ran = false
        perform { device throws(VirtqueueError) in
            ran = true
            return try body(device)
        }
        return ran
    }

    // MARK: Host-initiated connections

    private func acceptAll() {
        while true {
            let fd = csystem_accept_nonblocking(listener)
            if fd < 0 {
                if errno == EINTR { continue }
                break  // EAGAIN: all taken; anything else: the next readiness tries again
            }
            let deadline = clock() &+ connectLineTimeout
            let admitted = pending.withLock { pending -> Bool in
                guard pending.count < Self.maxPending else { return false }
                pending[fd] = Pending(deadline: deadline)
                return true
            }
            guard admitted, let loop else {
                _ = pending.withLock { $0.removeValue(forKey: fd) }
                Glibc.close(fd)
                continue
            }
            do {
                try loop.add(fd) { [weak self] in self?.readConnectLine(fd) }
            } catch {
                _ = pending.withLock { $0.removeValue(forKey: fd) }
                Glibc.close(fd)
            }
        }
        armLineTimer()
    }

    /// Takes the CONNECT line, never a byte past its newline (those are the stream's).
    private func readConnectLine(_ fd: Int32) {
        guard var entry = pending.withLock({ $0[fd] }) else { return }
        var buffer = [UInt8](repeating: 0, count: VsockConnectLine.maxLength)
        let want = VsockConnectLine.maxLength - entry.line.count
        let peeked = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, want, Int32(MSG_PEEK)) }
        if peeked < 0 && (errno == EAGAIN || errno == EINTR) { return }
        guard peeked > 0 else {
            dropPending(fd)  // closed (or failed) before the line ended
            return
        }
        let take = buffer[0..<peeked].firstIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? peeked
        let taken = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, take, 0) }
        guard taken == take else {
            dropPending(fd)
            return
        }
        entry.line += buffer[0..<take]
        guard entry.line.last == UInt8(ascii: "\n") else {
            if entry.line.count >= VsockConnectLine.maxLength {
                dropPending(fd)
            } else {
                pending.withLock { $0[fd] = entry }
            }
            return
        }
        _ = pending.withLock { $0.removeValue(forKey: fd) }
        loop?.remove(fd)
        armLineTimer()
        guard case .port(let port) = VsockConnectLine.parse(entry.line) else {
            Glibc.close(fd)
            return
        }
        let handed = run { device throws(VirtqueueError) in
            // From here the device owns the stream and closes it on refusal.
            try device.hostConnect(adopt(fd), toGuestPort: port)
        }
        if !handed { Glibc.close(fd) }
    }

    private func dropPending(_ fd: Int32) {
        _ = pending.withLock { $0.removeValue(forKey: fd) }
        loop?.remove(fd)
        Glibc.close(fd)
        armLineTimer()
    }

    private func expirePending() {
        let now = clock()
        let late = pending.withLock { $0.filter { $0.value.deadline <= now }.map(\.key) }
        for fd in late { dropPending(fd) }
        armLineTimer()
    }

    private func armLineTimer() {
        lineTimer.arm(at: pending.withLock { $0.values.map(\.deadline).min() })
    }

    /// Numbers `fd` as a stream the device may name.
    private func adopt(_ fd: Int32) -> VsockStreamID {
        streams.withLock { streams in
            let id = streams.next
            streams.next += 1
            streams.descriptors[id] = fd
            return id
        }
    }

    private func descriptor(_ id: VsockStreamID) -> Int32? { streams.withLock { $0.descriptors[id] } }

    /// Host connections still owing their CONNECT line (for tests and --verbose).
    package var pendingCount: Int { pending.withLock { $0.count } }
    /// Streams open now.
    package var streamCount: Int { streams.withLock { $0.descriptors.count } }

    // MARK: VsockBackend

    package func connect(toPort port: UInt32) -> VsockStreamID? {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        // A Unix socket connects at once or not at all (EAGAIN: its backlog is full); we
        // never wait, so a full listener is as good as none: RST.
        let result = UnixSocketAddress.with("\(path)_\(port)") { address, length in Glibc.connect(fd, address, length) }
        guard result == 0 else {
            Glibc.close(fd)
            return nil
        }
        return adopt(fd)
    }

    package func read(_ stream: VsockStreamID, into buffers: [UnsafeMutableRawBufferPointer]) -> VsockRead {
        guard let fd = descriptor(stream) else { return .end }
        let vectors = buffers.map { iovec(iov_base: $0.baseAddress, iov_len: $0.count) }
        while true {
            let count = vectors.withUnsafeBufferPointer { readv(fd, $0.baseAddress, Int32($0.count)) }
            if count > 0 { return .bytes(count) }
            if count == 0 { return .end }
            if errno == EINTR { continue }
            return errno == EAGAIN ? .wouldBlock : .end
        }
    }

    package func write(_ stream: VsockStreamID, from buffers: [UnsafeRawBufferPointer]) -> Int? {
        guard let fd = descriptor(stream) else { return nil }
        var vectors = buffers.map { iovec(iov_base: UnsafeMutableRawPointer(mutating: $0.baseAddress), iov_len: $0.count) }
        while true {
            // sendmsg, not writev: MSG_NOSIGNAL, so a host program that went away is an
            // EPIPE here and not a SIGPIPE for the whole VMM.
            let count = vectors.withUnsafeMutableBufferPointer { iov -> Int in
                var message = msghdr()
                message.msg_iov = iov.baseAddress
                message.msg_iovlen = iov.count
                return sendmsg(fd, &message, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
            }
            if count >= 0 { return count }
            if errno == EINTR { continue }
            return errno == EAGAIN ? 0 : nil
        }
    }

    package func watch(_ stream: VsockStreamID, readable: Bool, writable: Bool) {
        guard let fd = descriptor(stream), let loop else { return }
        var interest: EventLoop.Readiness = []
        if readable { interest.insert(.readable) }
        if writable { interest.insert(.writable) }
        do {
            try loop.watch(fd, for: interest) { [weak self] readiness in self?.streamReady(stream, readiness) }
        } catch {
            // Unwatchable (out of memory in the kernel): the stream would hang; the next
            // readiness change retries, and the device's timeouts end a closing one.
        }
    }

    private func streamReady(_ stream: VsockStreamID, _ readiness: EventLoop.Readiness) {
        run { device throws(VirtqueueError) in
            var notify = false
            if readiness.contains(.writable) { notify = try device.streamWritable(stream) || notify }
            if readiness.contains(.readable) { notify = try device.streamReadable(stream) || notify }
            return notify
        }
    }

    package func shutdownWrite(_ stream: VsockStreamID) {
        guard let fd = descriptor(stream) else { return }
        _ = shutdown(fd, Int32(SHUT_WR))
    }

    package func close(_ stream: VsockStreamID) {
        guard let fd = streams.withLock({ $0.descriptors.removeValue(forKey: stream) }) else { return }
        loop?.remove(fd)
        Glibc.close(fd)
    }

    package func scheduleDelivery() { delivery.signal() }

    package func deadlineChanged(_ deadline: UInt64?) { deviceTimer.arm(at: deadline) }
}
