/// The MMIO bus window of one mapped BAR: turns absolute guest accesses (already made
/// window-relative by `Bus`) into BAR-relative ones.
final class PCIBARWindow: BusDevice {
    let device: any PCIDevice
    let bar: Int

    init(device: any PCIDevice, bar: Int) {
        self.device = device
        self.bar = bar
    }

    func read(offset: UInt64, size: Int) -> UInt64 { device.barRead(bar: bar, offset: offset, size: size) }
    func write(offset: UInt64, size: Int, value: UInt64) { device.barWrite(bar: bar, offset: offset, size: size, value: value) }
}
