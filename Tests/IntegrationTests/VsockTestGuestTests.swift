import Foundation
import Synchronization
import Testing

/// virtio-vsock end to end: swiftlet --vsock with the test guest's own driver (mode=vsock,
/// which echoes what host connections send and then connects out), and host programs on
/// the Unix sockets as Firecracker's users write them.
@Suite struct VsockTestGuestTests {
    /// FNV-1a, 64 bits: what each side's bytes are compared by.
    static func hash(_ bytes: [UInt8]) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        return hash
    }

    /// What the host programs saw, filled in by their threads.
    struct Seen: Sendable {
        var unlistenedClosedWithoutOK: Bool?
        var stalledLineClosedAfter: Double?
        var greetings: [String] = []
        var echoes: [(sent: UInt64, received: UInt64, count: Int)] = []
        var fromGuest: [UInt8] = []
        var failures: [String] = []
    }

    final class SeenBox: Sendable {
        private let state = Mutex(Seen())
        func withLock<R>(_ body: (inout Seen) -> R) -> R { state.withLock { body(&$0) } }
    }

    @Test func bytesBothWaysSixteenConnectionsRSTAndTimeout() throws {
        guard TestEnvironment.hasKVM else {
            try TestEnvironment.skipped("vsock test guest", because: "/dev/kvm is absent")
        }
        let directory = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("v.sock").path
        let outbound = try UnixSocket.listen(path + "_1234")
        let seen = SeenBox()
        let hostDone = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            defer { hostDone.signal() }
            Self.hostPrograms(path: path, outbound: outbound, seen: seen)
        }
        let run = try Swiftlet.run(
            ["--vsock", "cid=5,uds=\(path)", "64", TestEnvironment.testGuest, "mode=vsock", "vsock_conns=16",
             "vsock_connect=1234", "vsock_send=1048576", "vsock_wait_ms=150000"],
            timeout: 200)
        _ = hostDone.wait(timeout: .now() + 30)
        outbound.close()

        #expect(run.status == 0, "stderr: \(run.stderr)")
        expectGuestChecksPassed(run.stdout)
        #expect(run.stdout.contains("vsock: guest_cid 5\n"))
        for check in ["vsock-init", "vsock-echo", "vsock-connect"] {
            #expect(run.stdout.contains("ok \(check)\n"), "no 'ok \(check)' in \(run.stdout)")
        }
        #expect(!FileManager.default.fileExists(atPath: path), "swiftlet left its socket behind")
        let result = seen.withLock { $0 }
        #expect(result.failures.isEmpty, "\(result.failures)")
        #expect(result.unlistenedClosedWithoutOK == true, "a CONNECT to a port nobody listens on got an OK")
        if let after = result.stalledLineClosedAfter {
            #expect(after >= 4.5 && after < 15, "the stalled CONNECT line was dropped after \(after) s")
        } else {
            Issue.record("the stalled CONNECT line was never dropped")
        }
        #expect(result.greetings.count == 16)
        #expect(Set(result.greetings).count == 16, "host ports repeat: \(result.greetings)")
        #expect(result.echoes.count == 16)
        for echo in result.echoes { #expect(echo.sent == echo.received, "an echo of \(echo.count) bytes differs") }
        #expect(result.echoes.contains { $0.count == 1 << 20 })
        let expected = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: ($0 % 4096) * 7 + 1) }
        #expect(result.fromGuest.count == 1 << 20)
        #expect(Self.hash(result.fromGuest) == Self.hash(expected), "the guest's megabyte arrived changed")
    }

    /// The host's side, while the guest runs.
    static func hostPrograms(path: String, outbound: UnixSocket, seen: SeenBox) {
        @Sendable func fail(_ text: String) { seen.withLock { $0.failures.append(text) } }
        let start = Date()
        while !FileManager.default.fileExists(atPath: path) {
            if Date().timeIntervalSince(start) > 60 { return fail("\(path) never appeared") }
            usleep(20_000)
        }
        let group = DispatchGroup()
        // A CONNECT line that never ends: dropped after the 5 s timeout.
        DispatchQueue.global().async(group: group) {
            do {
                let client = try UnixSocket.connect(path)
                try client.write(Array("CONNE".utf8))
                let began = Date()
                let rest = try client.readToEnd(timeout: 20)
                seen.withLock { $0.stalledLineClosedAfter = rest.isEmpty ? Date().timeIntervalSince(began) : nil }
            } catch { fail("stalled line: \(error)") }
        }
        // A port nobody in the guest listens on: the guest answers RST, we are closed.
        do {
            let client = try UnixSocket.connect(path)
            try client.write(Array("CONNECT 99\n".utf8))
            let answer = try client.readToEnd(timeout: 30)
            seen.withLock { $0.unlistenedClosedWithoutOK = answer.isEmpty }
        } catch { fail("port 99: \(error)") }
        // Sixteen at once: one megabyte on the first, 64 KiB on the others, echoed back.
        for index in 0..<16 {
            DispatchQueue.global().async(group: group) {
                do {
                    let client = try UnixSocket.connect(path)
                    try client.write(Array("connect 52\n".utf8))
                    let greeting = try client.readLine(timeout: 60)
                    guard greeting.hasPrefix("OK ") else { return fail("connection \(index): greeting '\(greeting)'") }
                    seen.withLock { $0.greetings.append(greeting) }
                    var generator = SystemRandomNumberGenerator()
                    let bytes = (0..<(index == 0 ? 1 << 20 : 64 << 10)).map { _ in UInt8.random(in: 0...255, using: &generator) }
                    let writer = DispatchGroup()
                    DispatchQueue.global().async(group: writer) {
                        do {
                            try client.write(bytes)
                            client.shutdownWrite()
                        } catch { fail("connection \(index): write: \(error)") }
                    }
                    // The first reader pauses a second half way: nothing may be lost.
                    let echoed = try client.readToEnd(timeout: 120, pauseAfter: index == 0 ? 512 << 10 : nil)
                    writer.wait()
                    seen.withLock { $0.echoes.append((Self.hash(bytes), Self.hash(echoed), bytes.count)) }
                } catch { fail("connection \(index): \(error)") }
            }
        }
        // The guest connects out once its sixteen are done.
        DispatchQueue.global().async(group: group) {
            do {
                let peer = try outbound.accept(timeout: 150)
                let bytes = try peer.readToEnd(timeout: 60)
                seen.withLock { $0.fromGuest = bytes }
            } catch { fail("guest-initiated: \(error)") }
        }
        _ = group.wait(timeout: .now() + 180)
    }
}

/// A blocking AF_UNIX stream socket, as a host program would use one.
final class UnixSocket: @unchecked Sendable {
    struct Failure: Error, CustomStringConvertible { let description: String }
    let fd: Int32
    private let path: String?

    private init(fd: Int32, path: String? = nil) {
        self.fd = fd
        self.path = path
    }

    deinit { close() }

    private static func address(_ path: String) -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in raw.copyBytes(from: Array(path.utf8.prefix(107))) }
        return address
    }

    static func connect(_ path: String) throws -> UnixSocket {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = address(path)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard result == 0 else {
            Glibc.close(fd)
            throw Failure(description: "connect \(path): errno \(errno)")
        }
        return UnixSocket(fd: fd)
    }

    static func listen(_ path: String) throws -> UnixSocket {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = address(path)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, Glibc.listen(fd, 4) == 0 else {
            Glibc.close(fd)
            throw Failure(description: "listen \(path): errno \(errno)")
        }
        return UnixSocket(fd: fd, path: path)
    }

    private let closed = Mutex(false)
    func close() {
        let was = closed.withLock { closed in defer { closed = true }; return closed }
        guard !was else { return }
        Glibc.close(fd)
        if let path { unlink(path) }
    }

    private func wait(_ events: Int16, timeout: Double) throws {
        var poller = pollfd(fd: fd, events: events, revents: 0)
        guard poll(&poller, 1, Int32(timeout * 1000)) == 1 else { throw Failure(description: "timed out after \(timeout) s") }
    }

    func accept(timeout: Double) throws -> UnixSocket {
        try wait(Int16(POLLIN), timeout: timeout)
        let client = Glibc.accept(fd, nil, nil)
        guard client >= 0 else { throw Failure(description: "accept: errno \(errno)") }
        return UnixSocket(fd: client)
    }

    func write(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let count = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { throw Failure(description: "send: errno \(errno)") }
            offset += count
        }
    }

    func shutdownWrite() { _ = shutdown(fd, Int32(SHUT_WR)) }

    /// Everything until end-of-file (a reset counts as one); with `pauseAfter`, stops
    /// reading for a second once that many bytes came.
    func readToEnd(timeout: Double, pauseAfter: Int? = nil) throws -> [UInt8] {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        var paused = false
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let pauseAfter, !paused, out.count >= pauseAfter {
                paused = true
                sleep(1)  // the pause under test, not a synchronisation
            }
            try wait(Int16(POLLIN), timeout: max(0.1, deadline.timeIntervalSinceNow))
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count == 0 || (count < 0 && errno == ECONNRESET) { return out }
            guard count > 0 else { throw Failure(description: "recv: errno \(errno)") }
            out += buffer[0..<count]
        }
    }

    func readLine(timeout: Double) throws -> String {
        var out: [UInt8] = []
        var byte: UInt8 = 0
        while out.last != UInt8(ascii: "\n") && out.count < 64 {
            try wait(Int16(POLLIN), timeout: timeout)
            guard recv(fd, &byte, 1, 0) == 1 else { break }
            out.append(byte)
        }
        return String(decoding: out, as: UTF8.self)
    }
}
