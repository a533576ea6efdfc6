#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import SwiftletDevices
import SwiftletHost
import SwiftletMemory
import SwiftletTestSupport
@testable import SwiftletMachine

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A vsock device on a real Unix-socket backend and event loop, with the guest played by
/// mock queue drivers under the same lock the loop's handlers take (as TransportedDevice's).
final class VsockGuestSide: @unchecked Sendable {
    // @unchecked: everything mutable is touched only with `lock` held.
    typealias P = VsockProtocol
    static let guestCID: UInt64 = 3
    static let receiveBufferSize: UInt32 = 4096 + 44

    let directory: String
    let path: String
    let backend: VsockUnixBackend
    let device: VirtioVsock
    let loop: EventLoop
    private let lock = Lock()
    private let memory: GuestMemory
    private let drivers: [VirtqueueDriver]
    private var buffers: [UInt16: UInt64] = [:]
    private var freeSlots: [UInt64]
    private let loopThread: HostThread

    init(connectLineTimeout: UInt64 = 5_000, bufferAllocation: UInt32 = 64 * 1024) throws {
        var template = Array("/tmp/swiftlet-vsock-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ $0.baseAddress.flatMap { mkdtemp($0) } }) else {
            throw TestFailure("mkdtemp failed")
        }
        directory = String(cString: made)
        path = directory + "/v.sock"
        backend = try VsockUnixBackend(path: path, connectLineTimeout: connectLineTimeout)
        guard let device = VirtioVsock(
            guestCID: Self.guestCID, backend: backend, bufferAllocation: bufferAllocation, clock: backend.clock)
        else { throw TestFailure("device refused") }
        self.device = device
        memory = try GuestMemory(ranges: [(0, 0x40_0000)])
        var drivers: [VirtqueueDriver] = []
        var queues: [Virtqueue] = []
        for index in 0..<3 {
            let driver = try VirtqueueDriver(memory: memory, size: 64, at: GuestAddress(0x1000 * UInt64(index + 1)))
            drivers.append(driver)
            queues.append(try Virtqueue(memory: memory, configuration: driver.configuration))
        }
        self.drivers = drivers
        freeSlots = (0..<64).map { 0x10_0000 + 0x2000 * UInt64($0) }
        try device.activate(features: 0, queues: queues)
        loop = try EventLoop()
        loopThread = HostThread { [loop] in loop.run() }
        try backend.attach(loop: loop) { [lock, device] body in
            lock.withLock { _ in _ = try? body(device) }
        }
        try lock.withLock { _ in try postBuffers() }
        guard loopThread.start() else { throw TestFailure("no loop thread") }
    }

    deinit {
        loop.stop()
        loopThread.join()
        backend.close()
        rmdir(directory)
    }

    private func postBuffers() throws {
        while let address = freeSlots.popLast() {
            let head = try drivers[P.receiveQueue].addChain(
                writable: [DescriptorChain.Buffer(address: GuestAddress(address), length: Self.receiveBufferSize)])
            buffers[head] = address
        }
    }

    /// The guest sends one packet.
    func send(_ header: VsockHeader, payload: [UInt8] = []) throws {
        try lock.withLock { _ in
            let bytes = header.bytes + payload
            try memory.write(bytes: bytes, at: GuestAddress(0x30_0000))
            try drivers[P.transmitQueue].addChain(
                readable: [DescriptorChain.Buffer(address: GuestAddress(0x30_0000), length: UInt32(bytes.count))])
            _ = try device.process(queue: P.transmitQueue)
            while try drivers[P.transmitQueue].popUsed() != nil {}
        }
    }

    func header(
        _ op: P.Op, from guestPort: UInt32, to hostPort: UInt32, length: UInt32 = 0, flags: UInt32 = 0,
        bufferAllocation: UInt32 = 256 * 1024, forwardCount: UInt32 = 0
    ) -> VsockHeader {
        VsockHeader(
            sourceCID: Self.guestCID, destinationCID: P.hostCID, sourcePort: guestPort, destinationPort: hostPort,
            length: length, op: op.rawValue, flags: flags, bufferAllocation: bufferAllocation, forwardCount: forwardCount)
    }

    /// Packets the device has put in receive buffers since last asked (buffers re-posted).
    func takeReceived() throws -> [(header: VsockHeader, payload: [UInt8])] {
        try lock.withLock { _ in
            var packets: [(VsockHeader, [UInt8])] = []
            while let (head, length) = try drivers[P.receiveQueue].popUsed() {
                guard let address = buffers.removeValue(forKey: head) else { throw TestFailure("unknown head") }
                let bytes = try memory.readBytes(at: GuestAddress(address), count: Int(length))
                guard let header = VsockHeader(bytes: bytes) else { throw TestFailure("short packet") }
                packets.append((header, Array(bytes[P.headerSize...])))
                freeSlots.append(address)
            }
            if !packets.isEmpty {
                try postBuffers()
                _ = try device.process(queue: P.receiveQueue)
            }
            return packets
        }
    }

    /// Waits (polling, up to `seconds`) for packets satisfying `done`; all packets seen.
    func receive(within seconds: Double = 5, until done: ([(header: VsockHeader, payload: [UInt8])]) -> Bool) throws
        -> [(header: VsockHeader, payload: [UInt8])]
    {
        var all: [(header: VsockHeader, payload: [UInt8])] = []
        let deadline = TimerFD.now() + UInt64(seconds * 1000)
        while TimerFD.now() < deadline {
            all += try takeReceived()
            if done(all) { return all }
            usleep(1000)
        }
        throw TestFailure("timed out; got \(all.map { P.Op(rawValue: $0.header.op).map { "\($0)" } ?? "?" })")
    }

    var connectionCount: Int { lock.withLock { _ in device.connectionCount } }

    /// The driver resets the device (status 0), as a vCPU would, under the lock.
    func resetDevice() { lock.withLock { _ in device.reset() } }
}

/// A lock a closure can capture. A pthread mutex rather than Synchronization's Mutex:
/// ThreadSanitizer (scripts/tsan) sees pthread locking, while Mutex's futex wait happens
/// in the uninstrumented standard library, so the harness's own locking read as races.
final class Lock: @unchecked Sendable {
    // @unchecked: `mutex` is only used through pthread_mutex_lock/unlock.
    private var mutex = pthread_mutex_t()
    init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }
    func withLock<R>(_ body: (()) throws -> R) rethrows -> R {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return try body(())
    }
}

/// A host program's end: a blocking Unix socket with a receive timeout.
final class HostClient {
    let fd: Int32

    init(connectingTo path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard UnixSocketAddress.with(path, { connect(fd, $0, $1) }) == 0 else {
            close(fd)
            throw TestFailure("connect \(path) failed: errno \(errno)")
        }
    }

    init(adopting fd: Int32) {
        self.fd = fd
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func write(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let count = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { throw TestFailure("send failed: errno \(errno)") }
            offset += count
        }
    }

    func write(_ text: String) throws { try write(Array(text.utf8)) }

    /// Up to `count` bytes; [] at end-of-file (or a reset: the VMM closed it with our bytes
    /// unread); throws on timeout.
    func read(upTo count: Int) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        let got = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, count, 0) }
        if got < 0 && errno == ECONNRESET { return [] }
        if got < 0 { throw TestFailure("recv failed: errno \(errno)") }
        return Array(buffer[0..<got])
    }

    /// Exactly `count` bytes (or fewer at end-of-file).
    func read(exactly count: Int) throws -> [UInt8] {
        var out: [UInt8] = []
        while out.count < count {
            let piece = try read(upTo: count - out.count)
            if piece.isEmpty { break }
            out += piece
        }
        return out
    }

    /// Reads one line (up to 64 bytes).
    func readLine() throws -> String {
        var out: [UInt8] = []
        while out.last != UInt8(ascii: "\n") && out.count < 64 {
            let byte = try read(upTo: 1)
            if byte.isEmpty { break }
            out += byte
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// A host program listening at `<uds>_<port>`.
final class HostListener {
    let fd: Int32
    let path: String

    init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard UnixSocketAddress.with(path, { bind(fd, $0, $1) }) == 0, listen(fd, 16) == 0 else {
            close(fd)
            throw TestFailure("listen \(path) failed")
        }
    }

    deinit {
        close(fd)
        unlink(path)
    }

    func accept() throws -> HostClient {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, 5000) == 1 else { throw TestFailure("nobody connected") }
        let client = Glibc.accept(fd, nil, nil)
        guard client >= 0 else { throw TestFailure("accept failed") }
        return HostClient(adopting: client)
    }
}
