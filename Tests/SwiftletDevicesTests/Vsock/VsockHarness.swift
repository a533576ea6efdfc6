import Synchronization
import SwiftletDevices
import SwiftletMemory
import SwiftletTestSupport

/// A clock tests move by hand (milliseconds).
final class ManualClock: Sendable {
    private let value = Mutex<UInt64>(1_000)
    var now: UInt64 { value.withLock { $0 } }
    func advance(_ milliseconds: UInt64) { value.withLock { $0 += milliseconds } }
    var read: @Sendable () -> UInt64 { { [self] in now } }
}

/// One packet the device put in a receive chain.
struct ReceivedPacket {
    let header: VsockHeader
    let payload: [UInt8]
    var op: VsockProtocol.Op? { VsockProtocol.Op(rawValue: header.op) }
}

/// A vsock device on an in-memory backend with its three queues driven by mock drivers:
/// the guest sends packets through `send`, and `received` collects (and re-posts) what
/// the device put in its receive buffers.
final class VsockHarness {
    typealias F = VirtioDeviceFixture
    typealias P = VsockProtocol
    static let guestCID: UInt64 = 42
    static let receiveBufferSize: UInt32 = 4096 + 44
    static let transmitBuffer: UInt64 = 0x20000

    let backend = InMemoryVsockBackend()
    let clock = ManualClock()
    let device: VirtioVsock
    let fixture: F
    private var receiveBuffers: [UInt16: UInt64] = [:]

    init(bufferAllocation: UInt32 = 64 * 1024, maxConnections: Int = 16, receiveBuffers: Int = 16) throws {
        guard let device = VirtioVsock(
            guestCID: Self.guestCID, backend: backend, bufferAllocation: bufferAllocation,
            maxConnections: maxConnections, clock: clock.read)
        else { throw TestFailure("the device refused CID 42") }
        self.device = device
        fixture = try F(queues: 3, size: 16)
        try device.activate(features: 0, queues: fixture.queues)
        try postReceiveBuffers(receiveBuffers)
    }

    var rx: VirtqueueDriver { fixture.drivers[P.receiveQueue] }
    var tx: VirtqueueDriver { fixture.drivers[P.transmitQueue] }
    var events: VirtqueueDriver { fixture.drivers[P.eventQueue] }
    var memory: GuestMemory { fixture.memory }

    /// `count` receive chains at 0x40000, 0x42000, ... (one per free slot of 16).
    func postReceiveBuffers(_ count: Int) throws {
        let used = Set(receiveBuffers.values)
        var slot: UInt64 = 0
        for _ in 0..<count {
            while used.contains(0x40000 + 0x2000 * slot) || receiveBuffers.values.contains(0x40000 + 0x2000 * slot) { slot += 1 }
            let address = 0x40000 + 0x2000 * slot
            let head = try rx.addChain(writable: [F.buffer(address, Self.receiveBufferSize)])
            receiveBuffers[head] = address
        }
    }

    /// A header from the guest (src = guest CID, dst = host) with our usual credit.
    func guestHeader(
        _ op: P.Op, from guestPort: UInt32, to hostPort: UInt32, length: UInt32 = 0, flags: UInt32 = 0,
        bufferAllocation: UInt32 = 64 * 1024, forwardCount: UInt32 = 0
    ) -> VsockHeader {
        VsockHeader(
            sourceCID: Self.guestCID, destinationCID: P.hostCID, sourcePort: guestPort, destinationPort: hostPort,
            length: length, op: op.rawValue, flags: flags, bufferAllocation: bufferAllocation, forwardCount: forwardCount)
    }

    /// The guest transmits raw bytes as one chain (in `pieces` buffers) and kicks.
    func sendRaw(_ bytes: [UInt8], pieces: Int = 1) throws {
        var buffers: [DescriptorChain.Buffer] = []
        let size = max(1, (bytes.count + pieces - 1) / pieces)
        var offset = 0
        while offset < bytes.count || buffers.isEmpty {
            let end = min(bytes.count, offset + size)
            let address = Self.transmitBuffer + UInt64(offset) + UInt64(buffers.count) * 16
            try memory.write(bytes: bytes[offset..<end], at: GuestAddress(address))
            buffers.append(F.buffer(address, UInt32(max(end - offset, 1))))
            offset = max(end, offset + 1)
        }
        try tx.addChain(readable: buffers)
        _ = try device.process(queue: P.transmitQueue)
        while try tx.popUsed() != nil {}
    }

    func send(_ header: VsockHeader, payload: [UInt8] = []) throws {
        try sendRaw(header.bytes + payload, pieces: payload.isEmpty ? 1 : 2)
    }

    /// Lets the device fill receive buffers (as the backend's scheduled call would), then
    /// takes every used one and posts it again.
    func received() throws -> [ReceivedPacket] {
        _ = try device.deliverPending()
        var packets: [ReceivedPacket] = []
        while let (head, length) = try rx.popUsed() {
            guard let address = receiveBuffers.removeValue(forKey: head) else { throw TestFailure("unknown head \(head)") }
            let bytes = try memory.readBytes(at: GuestAddress(address), count: Int(length))
            guard let header = VsockHeader(bytes: bytes) else { throw TestFailure("short packet: \(length) bytes") }
            packets.append(ReceivedPacket(header: header, payload: Array(bytes[P.headerSize...])))
        }
        try postReceiveBuffers(packets.count)
        _ = try device.process(queue: P.receiveQueue)
        return packets
    }

    /// A guest-initiated connection from `guestPort` to a listening `hostPort`, answered.
    @discardableResult
    func connectFromGuest(_ guestPort: UInt32, to hostPort: UInt32, bufferAllocation: UInt32 = 64 * 1024) throws
        -> InMemoryVsockBackend.Stream
    {
        backend.listening.insert(hostPort)
        try send(guestHeader(.request, from: guestPort, to: hostPort, bufferAllocation: bufferAllocation))
        let answers = try received()
        guard answers.count == 1, answers[0].op == .response else { throw TestFailure("no RESPONSE: \(answers)") }
        guard let stream = backend.openStreams.last(where: { $0.port == hostPort }) else { throw TestFailure("no stream") }
        return stream
    }
}
