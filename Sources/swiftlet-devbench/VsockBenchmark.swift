#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import SwiftletDevices
import SwiftletHost
import SwiftletMachine
import SwiftletMemory
import SwiftletTestSupport

/// A byte stream through virtio-vsock and swiftlet's Unix-socket host side (side
/// "device"): a host program on the socket (CONNECT, then write or read), the device on
/// its event loop thread, and the guest played by mock drivers with fake guest memory,
/// 64 KiB packets within credit. Against the same stream over a plain Unix socket pair
/// (side "plain"). Both time the data from its first byte to its last.
struct VsockBenchmark {
    enum Direction: String { case g2h, h2g }
    enum Side: String { case device, plain }

    static let chunk = 64 * 1024
    static let guestBuffer: UInt32 = 1 << 20
    static let receiveBase: UInt64 = 0x10_0000
    static let transmitBuffer: UInt64 = 0x80_0000

    let direction: Direction
    let side: Side
    let bytes: Int

    init(_ options: Options) throws(DevbenchError) {
        direction = try options.choice("direction", Direction.self)
        side = try options.choice("side", Side.self)
        bytes = try options.integer("mib", in: 1...4096) << 20
    }

    func run() throws -> JSONObject {
        let seconds = side == .plain ? try plain() : try device()
        return JSONObject(fields: [
            ("bench", .string("vsock")), ("direction", .string(direction.rawValue)), ("side", .string(side.rawValue)),
            ("bytes", .integer(bytes)), ("seconds", .number(seconds)),
            ("us_per_mib", .number(seconds * 1e6 / Double(bytes >> 20))),
            ("mib_per_s", .number(Double(bytes) / seconds / 1_048_576)),
        ])
    }

    // MARK: The plain socket pair

    private func plain() throws -> Double {
        var fds: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
            throw DevbenchError.system("socketpair")
        }
        defer { close(fds[0]); close(fds[1]) }
        let total = bytes
        let start = monotonicSeconds()
        let writer = BenchThread { [fd = fds[0]] in Self.writeAll(fd, total) }
        guard writer.start() else { throw DevbenchError("no writer thread") }
        let read = Self.readAll(fds[1], total)
        writer.join()
        let seconds = monotonicSeconds() - start
        guard read == total else { throw DevbenchError("read \(read) of \(total) bytes") }
        return seconds
    }

    static func writeAll(_ fd: Int32, _ total: Int) {
        let buffer = [UInt8](repeating: 0x5A, count: chunk)
        var sent = 0
        while sent < total {
            let count = buffer.withUnsafeBytes { send(fd, $0.baseAddress, min($0.count, total - sent), Int32(MSG_NOSIGNAL)) }
            if count <= 0 { return }
            sent += count
        }
    }

    static func readAll(_ fd: Int32, _ total: Int) -> Int {
        var buffer = [UInt8](repeating: 0, count: chunk)
        var got = 0
        while got < total {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            got += count
        }
        return got
    }

    // MARK: Swiftlet's device

    private func device() throws -> Double {
        var template = Array("/tmp/swiftlet-devbench-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ $0.baseAddress.flatMap { mkdtemp($0) } }) else {
            throw DevbenchError.system("mkdtemp")
        }
        let directory = String(cString: made)
        defer { rmdir(directory) }
        let path = directory + "/v.sock"
        let backend = try VsockUnixBackend(path: path)
        defer { backend.close() }
        guard let device = VirtioVsock(guestCID: 3, backend: backend, clock: backend.clock) else {
            throw DevbenchError("the device refused CID 3")
        }
        let memory = try GuestMemory(ranges: [(0, 0x100_0000)])
        try memory.fill(0, at: GuestAddress(0), count: 0x100_0000)  // resident
        let drivers = try (0..<3).map { index in
            try VirtqueueDriver(memory: memory, size: 256, at: GuestAddress(0x2000 * UInt64(index + 1)))
        }
        try device.activate(features: 0, queues: drivers.map { try Virtqueue(memory: memory, configuration: $0.configuration) })
        let lock = BenchLock()
        let loop = try EventLoop()
        try backend.attach(loop: loop) { body in lock.run { _ = try? body(device) } }
        let loopThread = BenchThread { loop.run() }
        guard loopThread.start() else { throw DevbenchError("no loop thread") }
        defer {
            loop.stop()
            loopThread.join()
        }
        var guest = VsockBenchGuest(device: device, memory: memory, drivers: drivers, lock: lock)
        try guest.postReceiveBuffers()

        let total = bytes, direction = direction
        let hostResult = Mutex<Int>(-1)
        let host = BenchThread {
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            defer { close(fd) }
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8.prefix(107))) }
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard connected == 0 else { return }
            let line = Array("CONNECT 52\n".utf8)
            _ = line.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            var byte: UInt8 = 0
            while recv(fd, &byte, 1, 0) == 1 && byte != UInt8(ascii: "\n") {}
            if direction == .h2g {
                Self.writeAll(fd, total)
                hostResult.withLock { $0 = total }
            } else {
                let read = Self.readAll(fd, total)
                hostResult.withLock { $0 = read }
            }
        }
        guard host.start() else { throw DevbenchError("no host thread") }
        defer { host.join() }
        try guest.accept()
        let start = monotonicSeconds()
        if direction == .h2g {
            let got = try guest.receive(total)
            guard got == total else { throw DevbenchError("the guest got \(got) of \(total) bytes") }
        } else {
            try guest.send(total)
            while hostResult.withLock({ $0 }) < 0 { sched_yield() }
        }
        let seconds = monotonicSeconds() - start
        host.join()
        if direction == .g2h, hostResult.withLock({ $0 }) != total {
            throw DevbenchError("the host read \(hostResult.withLock { $0 }) of \(total) bytes")
        }
        return seconds
    }
}

/// The guest's side for the benchmark: one connection, accepted on port 52.
struct VsockBenchGuest {
    let device: VirtioVsock
    let memory: GuestMemory
    let drivers: [VirtqueueDriver]
    let lock: BenchLock
    var slots: [UInt16: UInt64] = [:]
    var hostPort: UInt32 = 0
    var consumed: UInt32 = 0
    var sent: UInt32 = 0
    var peerBuffer: UInt32 = 0
    var peerForwarded: UInt32 = 0
    static let slot: UInt64 = 0x1_1000

    init(device: VirtioVsock, memory: GuestMemory, drivers: [VirtqueueDriver], lock: BenchLock) {
        self.device = device
        self.memory = memory
        self.drivers = drivers
        self.lock = lock
    }

    /// 64 receive buffers of 44 + 64 KiB.
    mutating func postReceiveBuffers() throws {
        try lock.run {
            for index in 0..<64 {
                let address = VsockBenchmark.receiveBase + UInt64(index) * Self.slot
                let head = try drivers[0].addChain(
                    writable: [DescriptorChain.Buffer(address: GuestAddress(address), length: UInt32(44 + VsockBenchmark.chunk))])
                slots[head] = address
            }
            _ = try device.process(queue: 0)
        }
    }

    private func header(_ op: VsockProtocol.Op, length: UInt32 = 0) -> VsockHeader {
        VsockHeader(
            sourceCID: 3, destinationCID: 2, sourcePort: 52, destinationPort: hostPort, length: length, op: op.rawValue,
            bufferAllocation: VsockBenchmark.guestBuffer, forwardCount: consumed)
    }

    /// Sends one packet; its payload already sits after the header's place.
    private func transmit(_ header: VsockHeader) throws {
        try memory.write(bytes: header.bytes, at: GuestAddress(VsockBenchmark.transmitBuffer))
        try drivers[1].addChain(
            readable: [DescriptorChain.Buffer(address: GuestAddress(VsockBenchmark.transmitBuffer), length: 44 + header.length)])
        _ = try device.process(queue: 1)
        while try drivers[1].popUsed() != nil {}
    }

    /// Takes every used receive buffer; returns payload bytes and whether a REQUEST came.
    private mutating func reap() throws -> (bytes: Int, request: UInt32?) {
        var bytes = 0
        var request: UInt32?
        while let (head, _) = try drivers[0].popUsed() {
            guard let address = slots[head], let header = VsockHeader(bytes: try memory.readBytes(at: GuestAddress(address), count: 44))
            else { throw DevbenchError("a bad receive buffer") }
            if header.op == VsockProtocol.Op.request.rawValue { request = header.sourcePort }
            peerBuffer = header.bufferAllocation
            peerForwarded = header.forwardCount
            if header.op == VsockProtocol.Op.readWrite.rawValue { bytes += Int(header.length) }
            try drivers[0].addChain(
                writable: [DescriptorChain.Buffer(address: GuestAddress(address), length: UInt32(44 + VsockBenchmark.chunk))])
        }
        return (bytes, request)
    }

    mutating func accept() throws {
        while true {
            let request = try lock.run { () throws -> UInt32? in
                let (_, request) = try reap()
                return request
            }
            if let request {
                hostPort = request
                try lock.run { try transmit(header(.response)) }
                return
            }
            sched_yield()
        }
    }

    /// Reads `total` bytes, giving credit back every quarter of the buffer.
    mutating func receive(_ total: Int) throws -> Int {
        var got = 0
        var announced: UInt32 = 0
        while got < total {
            let count = try lock.run { () throws -> Int in
                let (bytes, _) = try reap()
                consumed &+= UInt32(bytes)
                if consumed &- announced >= VsockBenchmark.guestBuffer / 4 {
                    announced = consumed
                    try transmit(header(.creditUpdate))
                }
                if bytes > 0 { _ = try device.process(queue: 0) }
                return bytes
            }
            got += count
            if count == 0 { sched_yield() }
        }
        return got
    }

    /// Sends `total` bytes in 64 KiB packets within the device's credit.
    mutating func send(_ total: Int) throws {
        try memory.fill(0x5A, at: GuestAddress(VsockBenchmark.transmitBuffer + 44), count: UInt64(VsockBenchmark.chunk))
        var done = 0
        while done < total {
            let wrote = try lock.run { () throws -> Int in
                _ = try reap()
                let credit = Int(peerBuffer) - Int(sent &- peerForwarded)
                let count = min(VsockBenchmark.chunk, total - done, max(0, credit))
                guard count > 0 else { return 0 }
                try transmit(header(.readWrite, length: UInt32(count)))
                sent &+= UInt32(count)
                return count
            }
            done += wrote
            if wrote == 0 { sched_yield() }
        }
    }
}

/// The device's lock, as TransportedDevice's: the loop's handlers and the guest take it.
final class BenchLock: Sendable {
    private let mutex = Mutex(())
    func run<R>(_ body: () throws -> R) rethrows -> R { try mutex.withLock { _ in try body() } }
}

/// A plain POSIX thread running one closure.
final class BenchThread: @unchecked Sendable {
    // @unchecked: `handle` is written once by `start` before `join` reads it.
    private var handle = pthread_t()
    private let body: @Sendable () -> Void
    private var started = false
    private var joined = false

    init(_ body: @escaping @Sendable () -> Void) { self.body = body }

    func start() -> Bool {
        let box = Unmanaged.passRetained(self).toOpaque()
        let result = pthread_create(&handle, nil, { raw in
            guard let raw else { return nil }
            Unmanaged<BenchThread>.fromOpaque(raw).takeRetainedValue().body()
            return nil
        }, box)
        if result != 0 { Unmanaged<BenchThread>.fromOpaque(box).release() }
        started = result == 0
        return started
    }

    func join() {
        guard started, !joined else { return }
        joined = true
        pthread_join(handle, nil)
    }
}
