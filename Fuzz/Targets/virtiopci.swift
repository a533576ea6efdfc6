// The virtio-pci transport: BAR0 reads/writes (common configuration, ISR, device config,
// notify, MSI-X table and PBA) and config-space writes, on an rng device whose queue may
// really run, decoded from the input.
import SwiftletDevices
import SwiftletMemory
import SwiftletTestSupport

let memory: GuestMemory = {
    do { return try GuestMemory(ranges: [(start: 0, size: 0x10000)]) } catch { fatalError("fuzz: \(error)") }
}()
let device: VirtioPCIDevice = {
    do {
        let rng = try VirtioRng()
        return try VirtioPCIDevice(device: TransportedDevice(rng), memory: memory, msiDelivery: PCIMSIRecorder(),
                                   interruptLine: CountingLine())
    } catch { fatalError("fuzz: \(error)") }
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    device.reset()
    try? memory.fill(0, at: GuestAddress(0), count: 0x10000)
    while !input.isEmpty {
        let op = input.u8()
        // Region (common, ISR, device, notify, MSI-X table, PBA, past the end) + offset.
        let region = UInt64(op >> 4 & 7)
        let offset = region * 0x1000 &+ (op & 0x80 != 0 ? UInt64(input.u16()) : UInt64(input.u8() & 0x3F))
        let size = input.accessSize()
        switch op & 3 {
        case 0: _ = device.barRead(bar: 0, offset: offset, size: size)
        case 1: device.barWrite(bar: 0, offset: offset, size: size, value: input.u64())
        case 2: _ = device.configWrite(offset: Int(input.u8()), size: size, value: input.u32())
        default:
            // A driver filling rings: a u16 somewhere in the first 64 KiB.
            try? memory.write(input.u16(), at: GuestAddress(UInt64(input.u16())))
            if op & 4 != 0 { device.queueNotified(Int(op >> 3 & 1)) }
        }
    }
    return 0
}
