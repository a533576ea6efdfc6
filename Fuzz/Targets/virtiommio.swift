// The virtio-mmio transport: register reads and writes at any offset and width (control
// registers, device config, past the window), ring scribbles and kicks through the
// machine's path, on an rng device whose queue may really run, decoded from the input.
import SwiftletDevices
import SwiftletMemory
import SwiftletTestSupport

let memory: GuestMemory = {
    do { return try GuestMemory(ranges: [(start: 0, size: 0x10000)]) } catch { fatalError("fuzz: \(error)") }
}()
let device: VirtioMMIODevice = {
    do {
        return try VirtioMMIODevice(device: TransportedDevice(try VirtioRng()), memory: memory, interrupt: CountingLine())
    } catch { fatalError("fuzz: \(error)") }
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    device.reset()
    try? memory.fill(0, at: GuestAddress(0), count: 0x10000)
    while !input.isEmpty {
        let op = input.u8()
        // Mostly registers (aligned, 32-bit, as a driver writes them), sometimes
        // anywhere in or past the window at any width.
        let wild = op & 0x80 != 0
        let offset = wild ? UInt64(input.u16()) : UInt64(input.u8() & 0x7F) * 4
        let size = wild ? input.accessSize() : 4
        switch op & 3 {
        case 0: _ = device.read(offset: offset, size: size)
        case 1: device.write(offset: offset, size: size, value: wild ? input.u64() : UInt64(input.u32()))
        case 2:
            // A driver filling rings: a u16 somewhere in the first 64 KiB.
            try? memory.write(input.u16(), at: GuestAddress(UInt64(input.u16())))
        default:
            device.queueNotified(Int(op >> 2 & 1))
        }
    }
    return 0
}
