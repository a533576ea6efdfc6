#if canImport(Glibc)
import Glibc
#endif
import Logging
import SwiftletDevices
import SwiftletHost
import SwiftletMachine
import SwiftletMemory
import SwiftletTestSupport

/// Frames through a real tap, either by `VirtioNet` on swiftlet's `TapBackend`, driven
/// through the virtqueue engine with fake guest memory (side "device"), or by plain
/// read(2)/write(2) on the tap (side "plain"). Both sides run the same batches and time
/// only their own work:
///
/// - tx: the driver queues a batch of one-buffer chains (header + frame); the timed part
///   is `process(queue:)`, which writes each to the tap, against a loop of write(2).
///   The frames go to a MAC nobody has, so the host drops them on arrival.
/// - rx: a batch of frames is sent out of the tap (AF_PACKET) and the driver has as many
///   receive buffers ready; the timed part is `backendReadable()` reading the tap until
///   it is empty into those buffers, against read(2) until EAGAIN.
struct NetBenchmark {
    enum Direction: String { case tx, rx }
    enum Side: String { case device, plain }

    static let receiveQueueBase: UInt64 = 0x1000
    static let transmitQueueBase: UInt64 = 0x4000
    static let buffers: UInt64 = 0x100000
    /// A receive or transmit buffer: a page fragment of Linux's mergeable-buffer size class.
    static let slot = 2048

    let direction: Direction
    let side: Side
    let frameSize: Int
    let frames: Int
    let batch: Int

    init(_ options: Options) throws(DevbenchError) {
        direction = try options.choice("direction", Direction.self)
        side = try options.choice("side", Side.self)
        // Ethernet frames without FCS: 60 bytes at least, and the header and frame fit a slot.
        frameSize = try options.integer("frame", in: 60...(Self.slot - TapTraffic.vnetHeaderSize))
        frames = try options.integer("frames")
        // The tap queues 500 frames (TUN_READQ_SIZE) before it drops; the ring holds 256.
        batch = try options.integer("batch", default: 128, in: 1...250)
    }

    func run() throws -> JSONObject {
        try TapTraffic.requireOwnNetworkNamespace()
        let tap = try Tap(pattern: "devbench%d")
        try tap.assign(address: in_addr(s_addr: UInt32(0x0A63_0001).bigEndian))  // 10.99.0.1
        let seconds: Double
        switch (direction, side) {
        case (.tx, .device): seconds = try deviceTransmit(tap)
        case (.tx, .plain): seconds = try plainTransmit(tap)
        case (.rx, .device): seconds = try deviceReceive(tap)
        case (.rx, .plain): seconds = try plainReceive(tap)
        }
        return JSONObject(fields: [
            ("bench", .string("net")), ("direction", .string(direction.rawValue)), ("side", .string(side.rawValue)),
            ("frame", .integer(frameSize)), ("frames", .integer(frames)), ("batch", .integer(batch)),
            ("seconds", .number(seconds)), ("us_per_frame", .number(seconds * 1e6 / Double(frames))),
            ("frames_per_s", .number(Double(frames) / seconds)),
            ("mib_per_s", .number(Double(frames * frameSize) / seconds / 1_048_576)),
        ])
    }

    /// The transmit frame with its (all-zero: no offload asked) virtio-net header.
    private var transmitPacket: [UInt8] {
        [UInt8](repeating: 0, count: TapTraffic.vnetHeaderSize)
            + TapTraffic.frame(size: frameSize, to: TapTraffic.nobodyMAC, from: TapTraffic.deviceMAC)
    }

    private func slotAddress(_ index: Int) -> GuestAddress {
        GuestAddress(Self.buffers + UInt64(index * Self.slot))
    }

    // MARK: Swiftlet's device

    /// A VirtioNet on swiftlet's TapBackend with both queues on mock drivers, every
    /// feature it offers accepted (mergeable buffers, offloads) as Linux's driver does.
    private func withDevice<R>(
        _ tap: Tap, _ body: (VirtioNet, _ rx: VirtqueueDriver, _ tx: VirtqueueDriver, GuestMemory) throws -> R
    ) throws -> R {
        let loop = try EventLoop()  // never run: it only has the tap added and removed
        let backend = TapBackend(tap: tap, loop: loop, logger: Logger(label: "swiftlet-devbench"))
        let device = VirtioNet(mac: TapTraffic.deviceMAC, backend: backend)
        let memory = try GuestMemory(ranges: [(0, Self.buffers + UInt64(256 * Self.slot))])
        try memory.fill(0, at: GuestAddress(Self.buffers), count: UInt64(256 * Self.slot))  // resident
        let rx = try VirtqueueDriver(
            memory: memory, size: VirtioNet.queueSize, at: GuestAddress(Self.receiveQueueBase), eventIndex: true)
        let tx = try VirtqueueDriver(
            memory: memory, size: VirtioNet.queueSize, at: GuestAddress(Self.transmitQueueBase), eventIndex: true)
        try device.activate(
            features: device.deviceFeatures,
            queues: [
                try Virtqueue(memory: memory, configuration: rx.configuration),
                try Virtqueue(memory: memory, configuration: tx.configuration),
            ])
        // The backend holds the loop weakly, as in swiftlet: keep it for the whole run.
        return try withExtendedLifetime(loop) { try body(device, rx, tx, memory) }
    }

    private func deviceTransmit(_ tap: Tap) throws -> Double {
        try withDevice(tap) { device, _, tx, memory in
            let packet = transmitPacket
            for index in 0..<batch { try memory.write(bytes: packet, at: slotAddress(index)) }
            var seconds = 0.0
            var done = 0
            while done < frames {
                let count = min(batch, frames - done)
                for index in 0..<count {
                    try tx.addChain(
                        readable: [DescriptorChain.Buffer(address: slotAddress(index), length: UInt32(packet.count))],
                        publish: false)
                }
                try tx.publish()
                let start = monotonicSeconds()
                _ = try device.process(queue: VirtioNetProtocol.transmitQueue)
                seconds += monotonicSeconds() - start
                for index in 0..<count {
                    guard try tx.popUsed() != nil else { throw DevbenchError("the device returned \(index) of \(count) frames") }
                }
                done += count
            }
            guard device.droppedTransmits == 0 else { throw DevbenchError("the tap refused \(device.droppedTransmits) frames") }
            return seconds
        }
    }

    private func deviceReceive(_ tap: Tap) throws -> Double {
        let injector = try PacketInjector(interface: tap.name)
        let frame = TapTraffic.frame(size: frameSize, to: TapTraffic.deviceMAC, from: TapTraffic.hostMAC)
        let expected = UInt32(TapTraffic.vnetHeaderSize + frameSize)
        return try withDevice(tap) { device, rx, _, _ in
            TapTraffic.drain(tap.fd)
            var seconds = 0.0
            var done = 0
            while done < frames {
                let count = min(batch, frames - done)
                for index in 0..<count {
                    try rx.addChain(
                        writable: [DescriptorChain.Buffer(address: slotAddress(index), length: UInt32(Self.slot))],
                        publish: false)
                }
                try rx.publish()
                for _ in 0..<count { try injector.send(frame) }
                var received = 0
                while received < count {
                    try TapTraffic.waitReadable(tap.fd)
                    let start = monotonicSeconds()
                    _ = try device.backendReadable()
                    seconds += monotonicSeconds() - start
                    while let used = try rx.popUsed() {
                        guard used.length == expected else {
                            throw DevbenchError("received \(used.length) bytes where \(expected) were sent")
                        }
                        received += 1
                    }
                }
                done += count
            }
            guard device.droppedPackets == 0 else { throw DevbenchError("the device dropped \(device.droppedPackets) frames") }
            return seconds
        }
    }

    // MARK: The plain loop

    private func plainTransmit(_ tap: Tap) throws -> Double {
        try tap.setOffloads(checksum: true, tso4: true, tso6: true)  // as the device's activation does
        let packet = transmitPacket
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: batch * Self.slot, alignment: 4096)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        for index in 0..<batch {
            UnsafeMutableRawBufferPointer(rebasing: buffer[(index * Self.slot)...]).copyBytes(from: packet)
        }
        var seconds = 0.0
        var done = 0
        while done < frames {
            let count = min(batch, frames - done)
            let start = monotonicSeconds()
            for index in 0..<count {
                guard write(tap.fd, buffer.baseAddress.map { $0 + index * Self.slot }, packet.count) == packet.count else {
                    throw DevbenchError.system("write to the tap")
                }
            }
            seconds += monotonicSeconds() - start
            done += count
        }
        return seconds
    }

    private func plainReceive(_ tap: Tap) throws -> Double {
        try tap.setOffloads(checksum: true, tso4: true, tso6: true)
        let injector = try PacketInjector(interface: tap.name)
        let frame = TapTraffic.frame(size: frameSize, to: TapTraffic.deviceMAC, from: TapTraffic.hostMAC)
        let expected = TapTraffic.vnetHeaderSize + frameSize
        // As large as the device's packet buffer: the tap may hand over a 64 KiB GSO frame.
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: VirtioNetProtocol.maxPacketSize, alignment: 16)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        TapTraffic.drain(tap.fd)
        var seconds = 0.0
        var done = 0
        while done < frames {
            let count = min(batch, frames - done)
            for _ in 0..<count { try injector.send(frame) }
            var received = 0
            while received < count {
                try TapTraffic.waitReadable(tap.fd)
                let start = monotonicSeconds()
                var length = 0
                var error: Int32 = 0
                while true {
                    length = read(tap.fd, buffer.baseAddress, buffer.count)
                    if length < 0 { error = errno }
                    guard length == expected else { break }
                    received += 1
                }
                seconds += monotonicSeconds() - start
                guard length < 0, error == EAGAIN else {
                    throw length < 0
                        ? DevbenchError("read from the tap: \(String(cString: strerror(error)))")
                        : DevbenchError("received \(length) bytes where \(expected) were sent")
                }
            }
            done += count
        }
        return seconds
    }
}
