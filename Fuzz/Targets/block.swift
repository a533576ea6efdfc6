// The virtio-blk request path: VirtioBlock over a 64 KiB temp file, serving chains whose
// header (type, sector), segments (discard/write-zeroes included), buffer split and
// status buffer come from the input.
import Glibc
import SwiftletDevices
import SwiftletMemory

let memory: GuestMemory = {
    do { return try GuestMemory(ranges: [(start: 0, size: 0x20000)]) } catch { fatalError("fuzz: \(error)") }
}()
let block: VirtioBlock = {
    let path = "/tmp/swiftlet-fuzz-block-\(getpid()).img"
    let fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0o600)
    _ = ftruncate(fd, 0x10000)
    close(fd)
    do {
        let block = try VirtioBlock(path: path)
        unlink(path)  // the open file lives on; nothing is left behind
        return block
    } catch { fatalError("fuzz: \(error)") }
}()

// Rings at fixed places; buffers at 0x4000 and up.
let table: UInt64 = 0x1000, avail: UInt64 = 0x2000, used: UInt64 = 0x3000
let types: [UInt32] = [0, 1, 4, 8, 11, 13, 2, 0xFFFF_FFFF]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    try? memory.fill(0, at: GuestAddress(0), count: 0x4000)
    let configuration = VirtqueueConfiguration(
        size: 16, descriptorTable: GuestAddress(table), availRing: GuestAddress(avail), usedRing: GuestAddress(used),
        eventIndex: input.u8() & 1 != 0, indirectDescriptors: false)
    guard let queue = try? Virtqueue(memory: memory, configuration: configuration) else { return 0 }
    block.reset()
    do { try block.activate(features: block.deviceFeatures, queues: [queue]) } catch { return 0 }

    var chains: UInt16 = 0
    var descriptor: UInt64 = 0
    while !input.isEmpty && descriptor < 16 && chains < 16 {
        let head = descriptor
        let count = UInt64(input.u8() % 5) + 1
        for i in 0..<count where descriptor < 16 {
            let pick = input.u8()
            let address = 0x4000 + UInt64(input.u16() & 0x3FFF) * 4
            let length = pick & 0x80 != 0 ? input.u32() & 0x1FFFF : UInt32(input.u8()) * (pick & 0x40 != 0 ? 512 : 1)
            var flags: UInt16 = pick & 1 != 0 ? 2 : 0  // WRITE
            if i + 1 < count { flags |= 1 }  // NEXT
            if i == 0 {
                // A request header: type and sector (sometimes past the end of the disk).
                try? memory.write(types[Int(pick >> 1 & 7)].littleEndian, at: GuestAddress(address))
                try? memory.write(UInt64(input.u8() & 0x9F).littleEndian, at: GuestAddress(address + 8))
            } else if pick & 2 != 0 {
                // A discard/write-zeroes segment: sector, count, flags.
                try? memory.write(UInt64(input.u8()).littleEndian, at: GuestAddress(address))
                try? memory.write(input.u32().littleEndian, at: GuestAddress(address + 8))
                try? memory.write(UInt32(input.u8() & 3).littleEndian, at: GuestAddress(address + 12))
            }
            let base = table + descriptor * 16
            try? memory.write(address.littleEndian, at: GuestAddress(base))
            try? memory.write(length.littleEndian, at: GuestAddress(base + 8))
            try? memory.write(flags.littleEndian, at: GuestAddress(base + 12))
            try? memory.write(UInt16(descriptor + 1).littleEndian, at: GuestAddress(base + 14))
            descriptor += 1
        }
        try? memory.write(UInt16(head).littleEndian, at: GuestAddress(avail + 4 + UInt64(chains) * 2))
        chains += 1
    }
    try? memory.write(chains.littleEndian, at: GuestAddress(avail + 2))
    _ = try? block.process(queue: 0)
    return 0
}
