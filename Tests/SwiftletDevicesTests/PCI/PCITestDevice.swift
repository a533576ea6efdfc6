import Synchronization
import SwiftletDevices

/// A PCI function with the BARs a test asks for, recording every BAR access.
final class PCITestDevice: PCIDevice {
    struct Access: Equatable {
        var bar: Int
        var offset: UInt64
        var size: Int
        var value: UInt64?
    }

    let name: String
    private let space: Mutex<PCIConfigurationSpace>
    private let log = Mutex<[Access]>([])

    init(name: String = "test", bars: [PCIBAR]) throws {
        var config = PCIConfigurationSpace(vendorID: 0x1234, deviceID: 0x5678, classCode: 0xFF_00_00)
        for bar in bars { try config.addBAR(bar) }
        self.name = name
        space = Mutex(config)
    }

    var configuration: PCIConfigurationSpace { space.withLock { $0 } }
    func configRead(offset: Int, size: Int) -> UInt32 { space.withLock { $0.read(offset: offset, size: size) } }
    func configWrite(offset: Int, size: Int, value: UInt32) -> PCIConfigurationSpace.Changes {
        space.withLock { $0.write(offset: offset, size: size, value: value) }
    }
    func barRead(bar: Int, offset: UInt64, size: Int) -> UInt64 {
        log.withLock { $0.append(Access(bar: bar, offset: offset, size: size, value: nil)) }
        return 0xAB
    }
    func barWrite(bar: Int, offset: UInt64, size: Int, value: UInt64) {
        log.withLock { $0.append(Access(bar: bar, offset: offset, size: size, value: value)) }
    }
    func reset() { space.withLock { $0.reset() } }

    var accesses: [Access] { log.withLock { $0 } }
}

/// Walks a capability list the way a guest does (PCI 3.0 section 6.7), with a loop guard.
func capabilityList(_ read: (Int, Int) -> UInt32) -> [(id: UInt8, offset: Int)] {
    var found: [(UInt8, Int)] = []
    guard read(PCIConfigurationSpace.statusOffset, 2) & 0x10 != 0 else { return [] }
    var next = Int(read(PCIConfigurationSpace.capabilitiesPointerOffset, 1) & 0xFC)
    while next != 0 && found.count < 48 {
        found.append((UInt8(read(next, 1)), next))
        next = Int(read(next + 1, 1) & 0xFC)
    }
    return found
}
