import Synchronization

/// 00:00.0, the host bridge Linux expects at the root of bus 0: QEMU's PCIe host bridge
/// identity (vendor 0x1B36 Red Hat, device 0x0008), class 0x060000, no BARs.
public final class PCIHostBridge: PCIDevice {
    public static let vendorID: UInt16 = 0x1B36
    public static let deviceID: UInt16 = 0x0008
    public static let classCode: UInt32 = 0x06_00_00

    private let space: Mutex<PCIConfigurationSpace>

    public init() {
        space = Mutex(PCIConfigurationSpace(vendorID: Self.vendorID, deviceID: Self.deviceID, classCode: Self.classCode))
    }

    public var name: String { "host bridge" }
    public var configuration: PCIConfigurationSpace { space.withLock { $0 } }
    public func configRead(offset: Int, size: Int) -> UInt32 { space.withLock { $0.read(offset: offset, size: size) } }
    public func configWrite(offset: Int, size: Int, value: UInt32) -> PCIConfigurationSpace.Changes {
        space.withLock { $0.write(offset: offset, size: size, value: value) }
    }
    public func barRead(bar: Int, offset: UInt64, size: Int) -> UInt64 { 0 }
    public func barWrite(bar: Int, offset: UInt64, size: Int, value: UInt64) {}
    public func reset() { space.withLock { $0.reset() } }
}
