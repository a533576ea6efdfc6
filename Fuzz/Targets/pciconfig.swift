// PCI configuration space through the bus: config reads/writes (BAR sizing and moves
// included) on a host bridge and a virtio device, from any slot/function/offset/size.
import SwiftletDevices
import SwiftletMemory
import SwiftletTestSupport

final class NullDevice: VirtioDevice, @unchecked Sendable {
    var deviceType: UInt16 { 4 }
    var queueMaxSizes: [UInt16] { [8] }
    var offeredFeatures: UInt64 { 0 }
    func configRead(offset: UInt64, size: Int) -> UInt64 { 0 }
    func configWrite(offset: UInt64, size: Int, value: UInt64) {}
    func activate(_ context: VirtioActivation) throws {}
    func queueNotified(_ index: Int) -> Bool { false }
    func reset() {}
}

let memory: GuestMemory = {
    do { return try GuestMemory(ranges: [(start: 0, size: 0x10000)]) } catch { fatalError("fuzz: \(error)") }
}()
let mmio = Bus()
let bus: PCIBus = {
    let bus = PCIBus(mmio: mmio)
    do {
        try bus.insert(PCIHostBridge(), slot: 0)
        try bus.insert(VirtioPCIDevice(device: NullDevice(), memory: memory, msiDelivery: PCIMSIRecorder()), slot: 1)
    } catch { fatalError("fuzz: \(error)") }
    return bus
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    bus.reset()
    while !input.isEmpty {
        let op = input.u8()
        let device = Int(op >> 3 & 3)  // slots 0..3: bridge, virtio, two empty
        let function = Int(op >> 5 & 1)
        let offset = op & 0x80 != 0 ? Int(input.u16() & 0x1FFF) : Int(input.u8() & 0x3F) * 4
        let size = input.accessSize()
        if op & 1 == 0 {
            _ = bus.configRead(device: device, function: function, offset: offset, size: size)
        } else {
            bus.configWrite(device: device, function: function, offset: offset, size: size, value: input.u32())
        }
        if op & 2 != 0 {
            // Whatever the BARs say now, accesses through the MMIO bus must land safely.
            _ = mmio.read(at: 0xC000_0000 &+ UInt64(input.u16()) * 8, size: 4)
        }
    }
    return 0
}
