// The virtqueue walker, structure-aware (after rust-vmm's virtio-queue fuzz target): the
// input decodes into a queue configuration, a descriptor table, an avail ring and a
// sequence of device operations on a small GuestMemory with a hole in it.
@testable import SwiftletDevices
import SwiftletMemory

/// Two RAM regions with a hole between them, so addresses can fall in, around and past RAM.
let memory: GuestMemory = {
    do { return try GuestMemory(ranges: [(start: 0, size: 0x10000), (start: 0x20000, size: 0x1000)]) } catch {
        fatalError("fuzz: cannot map guest memory: \(error)")  // harness setup, not guest input
    }
}()

/// Mostly addresses near RAM (16-byte steps below 0x24000); sometimes any 64-bit value.
func address(_ input: inout FuzzInput) -> UInt64 {
    let raw = input.u16()
    return raw & 0x8000 != 0 ? input.u64() : UInt64(raw & 0x7FFF) * 8
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    for region in memory.regions { try? memory.fill(0, at: region.start, count: region.size) }

    let sizeByte = input.u8()
    // Powers of two up to 64 mostly (bigger ones only slow the walk down); the raw value (zero, odd, huge) otherwise.
    let queueSize: UInt16 = sizeByte & 0x80 != 0 ? UInt16(sizeByte & 0x7F) : 1 << (sizeByte % 7)
    let flags = input.u8()
    let configuration = VirtqueueConfiguration(
        size: queueSize, descriptorTable: GuestAddress(address(&input)),
        availRing: GuestAddress(address(&input)), usedRing: GuestAddress(address(&input)),
        eventIndex: flags & 1 != 0, indirectDescriptors: flags & 2 != 0,
        maxChainBytes: flags & 4 != 0 ? UInt64(input.u32()) : UInt64(UInt32.max))

    // Descriptors: address, length, flags, next, written where the table says (if in RAM).
    let descriptorCount = Int(input.u8())
    for index in 0..<descriptorCount {
        let base = configuration.descriptorTable.value &+ UInt64(index) &* 16
        let address = address(&input)
        let length = input.u8() & 0x80 != 0 ? input.u32() : UInt32(input.u8()) * 16
        let descriptorFlags = input.u16() & 0x7
        let next = input.u8() & 0x80 != 0 ? input.u16() : UInt16(input.u8() & 0xF)
        try? memory.write(address.littleEndian, at: GuestAddress(base))
        try? memory.write(length.littleEndian, at: GuestAddress(base &+ 8))
        try? memory.write(descriptorFlags.littleEndian, at: GuestAddress(base &+ 12))
        try? memory.write(next.littleEndian, at: GuestAddress(base &+ 14))
    }
    // The avail ring: flags, idx, entries.
    let avail = configuration.availRing.value
    try? memory.write(input.u16().littleEndian, at: GuestAddress(avail))
    try? memory.write(input.u16().littleEndian, at: GuestAddress(avail &+ 2))
    for slot in 0..<Int(input.u8() & 0x3F) {
        try? memory.write(UInt16(input.u8() & 0x1F).littleEndian, at: GuestAddress(avail &+ 4 &+ UInt64(slot) * 2))
    }

    let nextAvail = input.u8() & 1 != 0 ? input.u16() : 0
    guard let queue = try? Virtqueue(memory: memory, configuration: configuration,
                                     nextAvailIndex: nextAvail, nextUsedIndex: nextAvail) else { return 0 }
    var popped: [DescriptorChain] = []
    for _ in 0..<32 where !input.isEmpty {
        let op = input.u8()
        switch op % 8 {
        case 0, 1:
            if let chain = try? queue.popChain() {
                // Every buffer the walker hands out must be RAM: touch all of it.
                for buffer in chain.readable + chain.writable {
                    guard memory.contains(buffer.address, count: UInt64(buffer.length)) else {
                        fatalError("walker returned a buffer outside RAM: \(buffer)")
                    }
                }
                var reader = ChainReader(memory: memory, chain: chain)
                _ = try? reader.readBytes(count: Int(input.u8()))
                var writer = ChainWriter(memory: memory, chain: chain)
                try? writer.write(bytes: [UInt8](repeating: 0xA5, count: Int(input.u8())))
                popped.append(chain)
            }
        case 2:
            if let chain = popped.popLast() { try? queue.addUsed(chain, writtenLength: input.u32()) }
        case 3:
            try? queue.addUsed(head: input.u16(), writtenLength: input.u32())
        case 4:
            _ = try? queue.availableCount()
        case 5:
            _ = try? queue.needsNotification()
            try? queue.disableNotifications()
            _ = try? queue.enableNotifications()
        case 6:
            // The driver scribbles on the rings meanwhile (another vCPU).
            try? memory.write(input.u16(), at: GuestAddress(address(&input)))
        default:
            // A device's service pass: at most a ring's worth of chains, even when the
            // used ring overlays the avail idx and every addUsed publishes another.
            var served = 0
            _ = try? queue.serviceAvailable { (chain) throws(VirtqueueError) in
                served += 1
                return op & 0x80 != 0 ? UInt32(truncatingIfNeeded: served) : UInt32(chain.writableLength)
            }
            guard served <= Int(queueSize) else { fatalError("one service pass took \(served) chains") }
        }
    }
    return 0
}
