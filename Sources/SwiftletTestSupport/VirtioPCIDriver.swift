import SwiftletDevices
import SwiftletMemory

/// The DRIVER side of the virtio modern PCI transport for tests: reads and writes BAR0 of
/// a `PCIDevice` at the offsets of virtio 1.2 section 4.1.4.3, the way Linux's
/// virtio_pci_modern does, so device tests can bring a device up without a guest.
public struct VirtioPCIDriver {
    public let device: any PCIDevice

    // struct virtio_pci_common_cfg offsets.
    public static let deviceFeatureSelect: UInt64 = 0x00
    public static let deviceFeature: UInt64 = 0x04
    public static let driverFeatureSelect: UInt64 = 0x08
    public static let driverFeature: UInt64 = 0x0C
    public static let configMSIXVector: UInt64 = 0x10
    public static let numQueues: UInt64 = 0x12
    public static let deviceStatus: UInt64 = 0x14
    public static let configGeneration: UInt64 = 0x15
    public static let queueSelect: UInt64 = 0x16
    public static let queueSize: UInt64 = 0x18
    public static let queueMSIXVector: UInt64 = 0x1A
    public static let queueEnable: UInt64 = 0x1C
    public static let queueNotifyOff: UInt64 = 0x1E
    public static let queueDesc: UInt64 = 0x20
    public static let queueDriver: UInt64 = 0x28
    public static let queueDevice: UInt64 = 0x30

    public init(device: any PCIDevice) { self.device = device }

    public func common(_ offset: UInt64, size: Int) -> UInt64 {
        device.barRead(bar: 0, offset: VirtioPCILayout.commonOffset + offset, size: size)
    }

    public func setCommon(_ offset: UInt64, size: Int, _ value: UInt64) {
        device.barWrite(bar: 0, offset: VirtioPCILayout.commonOffset + offset, size: size, value: value)
    }

    public var status: UInt8 { UInt8(truncatingIfNeeded: common(Self.deviceStatus, size: 1)) }
    public func setStatus(_ value: UInt8) { setCommon(Self.deviceStatus, size: 1, UInt64(value)) }
    /// Adds `bits` to the status, as drivers do.
    public func addStatus(_ bits: UInt8) { setStatus(status | bits) }

    /// The 64 device feature bits, read through the select window.
    public func deviceFeatures() -> UInt64 {
        setCommon(Self.deviceFeatureSelect, size: 4, 0)
        let low = common(Self.deviceFeature, size: 4)
        setCommon(Self.deviceFeatureSelect, size: 4, 1)
        return low | common(Self.deviceFeature, size: 4) << 32
    }

    public func setDriverFeatures(_ features: UInt64) {
        setCommon(Self.driverFeatureSelect, size: 4, 0)
        setCommon(Self.driverFeature, size: 4, features & 0xFFFF_FFFF)
        setCommon(Self.driverFeatureSelect, size: 4, 1)
        setCommon(Self.driverFeature, size: 4, features >> 32)
    }

    /// Programs queue `index` from `configuration` (64-bit addresses as lo/hi halves, as
    /// Linux's vp_iowrite64_twopart), optionally an MSI-X vector, and enables it.
    public func setUpQueue(_ index: Int, _ configuration: VirtqueueConfiguration, vector: UInt16? = nil, enable: Bool = true) {
        setCommon(Self.queueSelect, size: 2, UInt64(index))
        setCommon(Self.queueSize, size: 2, UInt64(configuration.size))
        for (offset, address) in [
            (Self.queueDesc, configuration.descriptorTable), (Self.queueDriver, configuration.availRing),
            (Self.queueDevice, configuration.usedRing),
        ] {
            setCommon(offset, size: 4, address.value & 0xFFFF_FFFF)
            setCommon(offset + 4, size: 4, address.value >> 32)
        }
        if let vector { setCommon(Self.queueMSIXVector, size: 2, UInt64(vector)) }
        if enable { setCommon(Self.queueEnable, size: 2, 1) }
    }

    /// Kicks queue `index` through its notify register (queue_notify_off = index).
    public func notify(queue index: Int) {
        device.barWrite(bar: 0, offset: VirtioPCILayout.notifyAddressOffset(queue: index), size: 2, value: UInt64(index))
    }

    public func readISR() -> UInt8 {
        UInt8(truncatingIfNeeded: device.barRead(bar: 0, offset: VirtioPCILayout.isrOffset, size: 1))
    }

    public func deviceConfig(_ offset: UInt64, size: Int) -> UInt64 {
        device.barRead(bar: 0, offset: VirtioPCILayout.deviceOffset + offset, size: size)
    }

    /// Programs and unmasks MSI-X table entry `vector` (address 0xFEE00000, data = vector).
    public func programVector(_ vector: Int, masked: Bool = false) {
        let entry = VirtioPCILayout.msixTableOffset + UInt64(16 * vector)
        device.barWrite(bar: 0, offset: entry, size: 4, value: 0xFEE0_0000)
        device.barWrite(bar: 0, offset: entry + 4, size: 4, value: 0)
        device.barWrite(bar: 0, offset: entry + 8, size: 4, value: UInt64(0x20 + vector))
        device.barWrite(bar: 0, offset: entry + 12, size: 4, value: masked ? 1 : 0)
    }
}
