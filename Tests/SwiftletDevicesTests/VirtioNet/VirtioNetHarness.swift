#if canImport(Glibc)
import Glibc
#endif
import SwiftletDevices
import SwiftletMemory
import SwiftletTestSupport

/// A fake tap: one end of an AF_UNIX datagram socket pair is the device's backend, the
/// other the "host", so every packet keeps its boundaries as on a tap.
final class SocketPairBackend: VirtioNetBackend {
    private let deviceEnd: Int32
    private let hostEnd: Int32
    private(set) var receiveCalls = 0
    private(set) var receivingChanges: [Bool] = []
    private(set) var offloads: [VirtioNetOffloads] = []

    init() throws {
        var fds: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
            throw TestFailure("socketpair failed")
        }
        deviceEnd = fds[0]
        hostEnd = fds[1]
        var size: Int32 = 1 << 20
        for fd in fds { _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(4)) }
    }

    deinit {
        close(deviceEnd)
        close(hostEnd)
    }

    // MARK: VirtioNetBackend

    func receive(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        receiveCalls += 1
        let count = recv(deviceEnd, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT))
        return count >= 0 ? count : nil
    }

    func send(_ buffers: [UnsafeMutableRawBufferPointer]) -> Bool {
        let vectors = buffers.map { iovec(iov_base: $0.baseAddress, iov_len: $0.count) }
        let total = buffers.reduce(0) { $0 + $1.count }
        return vectors.withUnsafeBufferPointer { writev(deviceEnd, $0.baseAddress, Int32($0.count)) } == total
    }

    func setReceiving(_ wanted: Bool) { receivingChanges.append(wanted) }
    func setOffloads(_ offloads: VirtioNetOffloads) { self.offloads.append(offloads) }

    var receiving: Bool { receivingChanges.last ?? false }

    // MARK: The host's side

    /// Puts one packet on the "wire" towards the guest.
    func inject(_ packet: [UInt8]) throws {
        guard packet.withUnsafeBytes({ Glibc.send(hostEnd, $0.baseAddress, $0.count, 0) }) == packet.count else {
            throw TestFailure("send failed")
        }
    }

    /// Every packet the guest sent, in order.
    func sentPackets() -> [[UInt8]] {
        var packets: [[UInt8]] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 17)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(hostEnd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if count < 0 { return packets }
            packets.append(Array(buffer[0..<count]))
        }
    }
}

/// A virtio-net header (virtio 1.2 section 5.1.6) as bytes.
func netHeader(
    flags: UInt8 = 0, gsoType: UInt8 = 0, headerLength: UInt16 = 0, gsoSize: UInt16 = 0,
    checksumStart: UInt16 = 0, checksumOffset: UInt16 = 0, numBuffers: UInt16 = 0
) -> [UInt8] {
    func le(_ value: UInt16) -> [UInt8] { [UInt8(value & 0xFF), UInt8(value >> 8)] }
    return [flags, gsoType] + le(headerLength) + le(gsoSize) + le(checksumStart) + le(checksumOffset) + le(numBuffers)
}

/// `count` bytes of a recognisable pattern starting at `seed`.
func payload(_ count: Int, seed: Int = 0) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: ($0 &+ seed) &* 7 &+ 3) }
}

/// A device on a socket-pair backend with both queues driven by mock drivers.
struct VirtioNetHarness {
    typealias F = VirtioDeviceFixture
    typealias P = VirtioNetProtocol
    let backend: SocketPairBackend
    let device: VirtioNet
    let fixture: F

    init(features: UInt64 = 0, size: UInt16 = 16) throws {
        backend = try SocketPairBackend()
        device = VirtioNet(mac: [0x02, 0, 0, 0, 0, 1], backend: backend)
        fixture = try F(queues: 2, size: size)
        try device.activate(features: features, queues: fixture.queues)
    }

    var rx: VirtqueueDriver { fixture.drivers[P.receiveQueue] }
    var tx: VirtqueueDriver { fixture.drivers[P.transmitQueue] }
    var memory: GuestMemory { fixture.memory }

    /// Gives the device `count` receive chains of `length` bytes at 0x40000, 0x50000, ...
    func addReceiveBuffers(_ count: Int, length: UInt32, from base: UInt64 = 0x40000) throws {
        for index in 0..<count {
            try rx.addChain(writable: [F.buffer(base + 0x10000 * UInt64(index), length)])
        }
    }
}
