// The virtio-net receive and transmit paths, structure-aware: the input decodes into the
// negotiated features (MRG_RXBUF, CSUM, TSO...), both queues' descriptor tables and avail
// rings (at fixed places, or anywhere, overlays included), then a sequence of driver and
// host events: tx kicks, rx kicks, frames arriving from an in-memory fake tap, new chains,
// ring scribbles and device resets.
@testable import SwiftletDevices
import SwiftletMemory

/// RAM with a hole, so buffers can fall in, around and past it.
let memory: GuestMemory = {
    do { return try GuestMemory(ranges: [(start: 0, size: 0x20000), (start: 0x30000, size: 0x1000)]) } catch {
        fatalError("fuzz: cannot map guest memory: \(error)")  // harness setup, not guest input
    }
}()

/// A tap in memory: frames to deliver, frames the guest sent.
final class FakeTap: VirtioNetBackend {
    var incoming: [[UInt8]] = []
    /// Sometimes a lying tap: claims a frame longer than it copied (a real read cannot).
    var overclaim = false
    var receiving = false
    var sentCount = 0

    func receive(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        guard !incoming.isEmpty else { return nil }
        let frame = incoming.removeFirst()
        let count = min(frame.count, buffer.count)
        frame.withUnsafeBytes { bytes in
            if count > 0, let base = buffer.baseAddress, let source = bytes.baseAddress { base.copyMemory(from: source, byteCount: count) }
        }
        return overclaim ? frame.count + 1 : count
    }

    func send(_ buffers: [UnsafeMutableRawBufferPointer]) -> Bool {
        // Touch every byte the device handed us (guest memory): ASan checks the bounds.
        var total = 0
        var sum: UInt8 = 0
        for buffer in buffers {
            total += buffer.count
            for byte in buffer { sum &+= byte }
        }
        guard total >= VirtioNetProtocol.headerSize, total <= VirtioNetProtocol.maxPacketSize else {
            fatalError("net: the device sent a \(total)-byte packet")
        }
        sentCount += 1
        return sum & 1 == 0 || sentCount % 3 != 0  // now and then the tap refuses one
    }

    func setReceiving(_ wanted: Bool) { receiving = wanted }
    func setOffloads(_ offloads: VirtioNetOffloads) {}
}

/// Mostly 8-byte steps inside the 0x20000 of RAM; sometimes any 64-bit value.
func address(_ input: inout FuzzInput) -> UInt64 {
    let raw = input.u16()
    return raw & 0x8000 != 0 ? input.u64() : UInt64(raw & 0x3FFF) * 8
}

/// A descriptor's length: small, a few KiB, or anything.
func length(_ input: inout FuzzInput) -> UInt32 {
    let pick = input.u8()
    switch pick & 3 {
    case 0: return UInt32(pick >> 2)
    case 1: return UInt32(input.u8()) * 16
    case 2: return UInt32(input.u16())
    default: return input.u32()
    }
}

struct QueueLayout {
    let configuration: VirtqueueConfiguration
    var availIndex: UInt16 = 0

    /// A descriptor written where the table says (if that is RAM).
    func writeDescriptor(_ index: UInt16, _ input: inout FuzzInput) {
        let base = configuration.descriptorTable.value &+ UInt64(index) &* 16
        let bufferAddress = input.u8() & 0x80 != 0 ? address(&input) : 0x8000 + UInt64(input.u16() & 0x3FFF) * 4
        let flags = input.u8() & 0x7  // NEXT, WRITE, INDIRECT
        let next = UInt16(input.u8() & 0x1F)
        try? memory.write(bufferAddress.littleEndian, at: GuestAddress(base))
        try? memory.write(length(&input).littleEndian, at: GuestAddress(base &+ 8))
        try? memory.write(UInt16(flags).littleEndian, at: GuestAddress(base &+ 12))
        try? memory.write(next.littleEndian, at: GuestAddress(base &+ 14))
    }

    /// Puts `head` in the next avail slot and publishes it.
    mutating func publish(head: UInt16) {
        let avail = configuration.availRing.value
        let slot = UInt64(availIndex & (configuration.size &- 1))
        try? memory.write(head.littleEndian, at: GuestAddress(avail &+ 4 &+ slot * 2))
        availIndex &+= 1
        try? memory.write(availIndex.littleEndian, at: GuestAddress(avail &+ 2))
    }
}

/// A frame from the host: a virtio-net header from the input, then a payload of some size.
func frame(_ input: inout FuzzInput) -> [UInt8] {
    let pick = input.u8()
    let size: Int
    switch pick & 3 {
    case 0: size = Int(pick >> 2)  // shorter than a header, sometimes
    case 1: size = 12 + Int(input.u8())
    case 2: size = 12 + Int(input.u16() & 0x1FFF)
    default: size = Int(input.u16()) + Int(input.u8() & 0x7F)  // up to a 64 KiB GSO frame and past
    }
    var bytes = [UInt8](repeating: pick, count: size)
    for index in 0..<min(size, 12) { bytes[index] = input.u8() }
    return bytes
}

let featureBits: [UInt64] = [
    VirtioNetProtocol.featureMergeableRxBuffers, VirtioNetProtocol.featureChecksum,
    VirtioNetProtocol.featureGuestChecksum, VirtioNetProtocol.featureGuestTSO4, VirtioNetProtocol.featureGuestTSO6,
    VirtioNetProtocol.featureHostTSO4, VirtioNetProtocol.featureHostTSO6, VirtioNetProtocol.featureMAC,
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    for region in memory.regions { try? memory.fill(0, at: region.start, count: region.size) }

    let featureByte = input.u8()
    var features: UInt64 = 0
    for (bit, feature) in featureBits.enumerated() where featureByte & (1 << bit) != 0 { features |= feature }
    let flags = input.u8()
    // Queue sizes 1..32: small enough that the walk stays fast, large enough to wrap.
    var layouts: [QueueLayout] = []
    for queue in 0..<2 {
        let queueSize: UInt16 = 1 << (input.u8() % 6)
        let base = 0x1000 * UInt64(queue + 1)
        let anywhere = flags & (4 << queue) != 0  // rings where the input says: overlays, misalignment
        layouts.append(QueueLayout(configuration: VirtqueueConfiguration(
            size: queueSize,
            descriptorTable: GuestAddress(anywhere ? address(&input) : base),
            availRing: GuestAddress(anywhere ? address(&input) : base + 0x400),
            usedRing: GuestAddress(anywhere ? address(&input) : base + 0x800),
            eventIndex: flags & 1 != 0, indirectDescriptors: flags & 2 != 0)))
    }
    // Each queue's table, and chains made available before the device starts.
    for queue in 0..<2 {
        let count = Int(input.u8() % 33)
        for index in 0..<count { layouts[queue].writeDescriptor(UInt16(index), &input) }
        for _ in 0..<Int(input.u8() % 33) { layouts[queue].publish(head: UInt16(input.u8() & 0x1F)) }
    }

    let tap = FakeTap()
    tap.overclaim = flags & 0x10 != 0
    let net = VirtioNet(mac: [2, 0, 0, 0, 0, 1], backend: tap)
    func start() -> Bool {
        let queues = layouts.compactMap { try? Virtqueue(memory: memory, configuration: $0.configuration) }
        guard queues.count == 2 else { return false }
        do { try net.activate(features: features, queues: queues) } catch { return false }
        return true
    }
    guard start() else { return 0 }
    var broken = false  // a ring error: the device needs a reset before it is used again

    for _ in 0..<48 where !input.isEmpty {
        let op = input.u8()
        switch op % 8 {
        case 0, 1:
            // A kick: tx or rx; work left past the budget is kicked again, as the loop does.
            let queue = Int(op >> 3 & 1)
            for _ in 0..<4 where !broken {
                do { _ = try net.process(queue: queue) } catch { broken = true }
                let unfinished = queue == 1 ? net.transmitQueue?.serviceUnfinished ?? false : false
                if !unfinished { break }
            }
        case 2, 3:
            // Frames arrive on the tap; the loop calls backendReadable while the device listens.
            for _ in 0..<Int(op >> 3 & 3) + 1 { tap.incoming.append(frame(&input)) }
            if tap.receiving && !broken {
                do { _ = try net.backendReadable() } catch { broken = true }
            }
        case 4:
            // The driver rewrites a descriptor and publishes a chain.
            let queue = Int(op >> 3 & 1)
            let index = UInt16(input.u8() & 0x1F)
            layouts[queue].writeDescriptor(index, &input)
            layouts[queue].publish(head: index)
        case 5:
            // The driver republishes heads it has (reusing descriptors as a driver does).
            let queue = Int(op >> 3 & 1)
            for _ in 0..<Int(op >> 4) + 1 { layouts[queue].publish(head: UInt16(input.u8() & 0x1F)) }
        case 6:
            // Another vCPU scribbles anywhere: rings, indices, tables, buffers.
            let target = GuestAddress(address(&input))
            if op & 8 != 0 { try? memory.write(input.u16(), at: target) } else { try? memory.write(input.u32(), at: target) }
            if op & 16 != 0 {
                let queue = Int(op >> 5 & 1)
                layouts[queue].availIndex = input.u16()
                try? memory.write(layouts[queue].availIndex.littleEndian,
                                  at: GuestAddress(layouts[queue].configuration.availRing.value &+ 2))
            }
        default:
            // Device reset (status 0) and a new start, the rings as they are.
            net.reset()
            tap.receiving = false
            broken = false
            for queue in 0..<2 { layouts[queue].availIndex = 0 }
            if op & 8 != 0 { features ^= VirtioNetProtocol.featureMergeableRxBuffers }
            guard start() else { return 0 }
        }
    }
    return 0
}
