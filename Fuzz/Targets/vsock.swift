// The virtio-vsock packet path, structure-aware: the input decodes into a sequence of
// guest packets (headers with each field from a small set of meaningful values or any
// value, payloads split across buffers, chains too short for a header), receive buffers
// of any size, and host events on an in-memory backend: CONNECTs, host bytes, a host
// reader that stops and resumes, a host that ends, timeouts, device and transport resets.
// The device must never crash, never answer an RST with an RST, and keep its memory
// bounded: connections under the cap, bytes held for the host within the credit given.
@testable import SwiftletDevices
import SwiftletMemory
import SwiftletTestSupport

let memory: GuestMemory = {
    do { return try GuestMemory(ranges: [(start: 0, size: 0x40000)]) } catch {
        fatalError("fuzz: cannot map guest memory: \(error)")  // harness setup, not guest input
    }
}()

final class FuzzClock: @unchecked Sendable {
    var now: UInt64 = 1_000
}

let guestCID: UInt64 = 7
let bufferAllocation: UInt32 = 16 * 1024
let maxConnections = 4

/// A port from a handful (so packets meet connections) or any.
func port(_ input: inout FuzzInput) -> UInt32 {
    let pick = input.u8()
    return pick & 0x80 != 0 ? input.u32() : UInt32(pick & 3) + (pick & 4 != 0 ? 1 << 30 : 100)
}

/// A guest header whose fields are mostly plausible and sometimes anything.
func header(_ input: inout FuzzInput, payload: Int) -> VsockHeader {
    let mask = input.u16()
    let op = mask & 1 != 0 ? input.u16() : UInt16(input.u8() % 8)
    return VsockHeader(
        sourceCID: mask & 2 != 0 ? input.u64() : guestCID,
        destinationCID: mask & 4 != 0 ? input.u64() : VsockProtocol.hostCID,
        sourcePort: port(&input), destinationPort: port(&input),
        length: mask & 8 != 0 ? input.u32() : UInt32(payload),
        type: mask & 16 != 0 ? input.u16() : VsockProtocol.typeStream,
        op: op,
        flags: mask & 32 != 0 ? input.u32() : UInt32(input.u8() & 3),
        bufferAllocation: mask & 64 != 0 ? input.u32() : UInt32(input.u16()) << 2,
        forwardCount: mask & 128 != 0 ? input.u32() : UInt32(input.u16()))
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    for region in memory.regions { try? memory.fill(0, at: region.start, count: region.size) }
    let backend = InMemoryVsockBackend()
    let clock = FuzzClock()
    guard let device = VirtioVsock(
        guestCID: guestCID, backend: backend, bufferAllocation: bufferAllocation, maxConnections: maxConnections,
        clock: { [clock] in clock.now })
    else { fatalError("vsock: CID 7 refused") }
    func makeDrivers() -> [VirtqueueDriver]? {
        try? (0..<3).map { index in
            try VirtqueueDriver(memory: memory, size: 16, at: GuestAddress(0x1000 * UInt64(index + 1)))
        }
    }
    guard var drivers = makeDrivers() else { return 0 }
    func start() -> Bool {
        let queues = drivers.compactMap { try? Virtqueue(memory: memory, configuration: $0.configuration) }
        guard queues.count == 3 else { return false }
        do { try device.activate(features: 0, queues: queues) } catch { return false }
        return true
    }
    guard start() else { return 0 }
    backend.listening = [100, 101]
    var broken = false

    var receiveSlots: [UInt16: UInt64] = [:]
    var freeSlots = Set((0..<16).map { 0x10000 + UInt64($0) * 0x1000 })

    /// Every packet the device gave the guest must be one it may send.
    func checkReceived() {
        while let used = try? drivers[0].popUsed() {
            guard let address = receiveSlots.removeValue(forKey: used.head) else { fatalError("vsock: unknown head") }
            freeSlots.insert(address)
            guard used.length > 0 else { continue }
            guard used.length >= 44, let bytes = try? memory.readBytes(at: GuestAddress(address), count: 44),
                let header = VsockHeader(bytes: bytes)
            else { fatalError("vsock: a \(used.length)-byte packet") }
            guard header.sourceCID == VsockProtocol.hostCID, header.destinationCID == guestCID,
                header.type == VsockProtocol.typeStream, VsockProtocol.Op(rawValue: header.op) != nil,
                Int(used.length) == 44 + Int(header.length), header.length <= VsockProtocol.maxPayload,
                header.op == VsockProtocol.Op.readWrite.rawValue || header.length == 0
            else { fatalError("vsock: the device sent \(header) in \(used.length) bytes") }
        }
    }

    func run(_ body: () throws(VirtqueueError) -> Bool) {
        guard !broken else { return }
        do { _ = try body() } catch { broken = true }
    }

    for _ in 0..<64 where !input.isEmpty {
        let op = input.u8()
        switch op % 10 {
        case 0, 1, 2:
            // The guest sends a packet: header (maybe short) and payload, in 1-3 buffers.
            let payload = Int(input.u16() % 6000)
            let header = header(&input, payload: payload)
            var bytes = header.bytes + [UInt8](repeating: op, count: payload)
            if op & 0x10 != 0 { bytes = Array(bytes.prefix(Int(input.u8() % 48))) }
            let pieces = Int((op >> 5) % 3) + 1
            var buffers: [DescriptorChain.Buffer] = []
            let step = max(1, (bytes.count + pieces - 1) / pieces)
            var offset = 0
            while offset < max(bytes.count, 1) {
                let end = min(bytes.count, offset + step)
                let address = 0x20000 + UInt64(offset) + UInt64(buffers.count) * 64
                try? memory.write(bytes: bytes[offset..<end], at: GuestAddress(address))
                buffers.append(DescriptorChain.Buffer(address: GuestAddress(address), length: UInt32(max(end - offset, 1))))
                offset = max(end, offset + 1)
            }
            let isReset = header.op == VsockProtocol.Op.reset.rawValue && bytes.count >= 44 && header.sourceCID == guestCID
            let resetsBefore = device.resetsSent
            guard (try? drivers[1].addChain(readable: buffers)) != nil else { break }
            run { () throws(VirtqueueError) in try device.process(queue: 1) }
            while (try? drivers[1].popUsed()) != nil {}
            if isReset && device.resetsSent != resetsBefore { fatalError("vsock: an RST answered with an RST") }
        case 3:
            // The guest posts receive buffers of some size and kicks.
            for _ in 0..<Int(op >> 4) + 1 {
                let length = op & 8 != 0 ? UInt32(input.u16() % 5000) : 4096
                guard let address = freeSlots.popFirst() else { break }
                guard let head = try? drivers[0].addChain(
                    writable: [DescriptorChain.Buffer(address: GuestAddress(address), length: min(length, 0x1000))])
                else {
                    freeSlots.insert(address)
                    break
                }
                receiveSlots[head] = address
            }
            run { () throws(VirtqueueError) in try device.process(queue: 0) }
            checkReceived()
        case 4:
            // A host program connects.
            let stream = backend.openHostStream()
            let guestPort = port(&input)
            run { () throws(VirtqueueError) in try device.hostConnect(stream.id, toGuestPort: guestPort) }
        case 5:
            // Host bytes arrive (or the host ends) on some stream.
            let streams = backend.openStreams
            guard !streams.isEmpty else { break }
            let stream = streams[Int(input.u8()) % streams.count]
            stream.toGuest += [UInt8](repeating: op, count: Int(input.u16() % 20000))
            if op & 0x80 != 0 { stream.hostEnded = true }
            run { () throws(VirtqueueError) in try device.streamReadable(stream.id) }
            checkReceived()
        case 6:
            // A host reader stops, resumes, or goes away.
            let streams = backend.openStreams
            guard !streams.isEmpty else { break }
            let stream = streams[Int(input.u8()) % streams.count]
            switch op >> 4 & 3 {
            case 0: stream.accepting = 0
            case 1: stream.accepting = Int(input.u16())
            case 2: stream.accepting = nil
            default: stream.gone = true
            }
            run { () throws(VirtqueueError) in try device.streamWritable(stream.id) }
        case 7:
            clock.now &+= UInt64(input.u16()) * 4
            run { () throws(VirtqueueError) in try device.expire() }
        case 8:
            run { () throws(VirtqueueError) in try device.deliverPending() }
            checkReceived()
        default:
            if op & 0x10 != 0 {
                run { () throws(VirtqueueError) in try device.signalTransportReset() }
            } else {
                device.reset()
                broken = false
                // The driver starts over with fresh rings, as after a real reset.
                guard let fresh = makeDrivers() else { return 0 }
                drivers = fresh
                receiveSlots = [:]
                freeSlots = Set((0..<16).map { 0x10000 + UInt64($0) * 0x1000 })
                guard start() else { return 0 }
            }
        }
        // Bounds that must hold whatever the guest did.
        if device.connections.count > maxConnections { fatalError("vsock: \(device.connections.count) connections") }
        for connection in device.connections.values where connection.hostBound.count > Int(bufferAllocation) + 32 {
            fatalError("vsock: \(connection.hostBound.count) bytes held for the host")
        }
        if device.control.count - device.controlHead > VirtioVsock.controlLimit { fatalError("vsock: control list overflow") }
        for stream in backend.streams.values where stream.closed && device.streams[stream.id] != nil {
            fatalError("vsock: a closed stream still named")
        }
    }
    device.reset()
    if !backend.openStreams.isEmpty { fatalError("vsock: reset left host streams open") }
    return 0
}
