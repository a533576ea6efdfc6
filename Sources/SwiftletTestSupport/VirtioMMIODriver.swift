import SwiftletDevices
import SwiftletMemory

/// The DRIVER side of virtio-mmio (version 2) for tests: 32-bit register accesses to a
/// `BusDevice` at the offsets of virtio 1.2 section 4.2.2, in the order Linux's
/// virtio_mmio driver makes them, so tests can bring a device up without a guest.
public struct VirtioMMIODriver {
    public typealias L = VirtioMMIOLayout
    public let device: any BusDevice

    public init(device: any BusDevice) { self.device = device }

    public func register(_ offset: UInt64) -> UInt32 {
        UInt32(truncatingIfNeeded: device.read(offset: offset, size: 4))
    }

    public func setRegister(_ offset: UInt64, _ value: UInt32) {
        device.write(offset: offset, size: 4, value: UInt64(value))
    }

    public var status: UInt8 { UInt8(truncatingIfNeeded: register(L.status)) }
    public func setStatus(_ value: UInt8) { setRegister(L.status, UInt32(value)) }
    /// Adds `bits` to the status, as drivers do.
    public func addStatus(_ bits: UInt8) { setStatus(status | bits) }

    /// The 64 device feature bits, read through the select window.
    public func deviceFeatures() -> UInt64 {
        setRegister(L.deviceFeaturesSel, 0)
        let low = UInt64(register(L.deviceFeatures))
        setRegister(L.deviceFeaturesSel, 1)
        return low | UInt64(register(L.deviceFeatures)) << 32
    }

    public func setDriverFeatures(_ features: UInt64) {
        setRegister(L.driverFeaturesSel, 0)
        setRegister(L.driverFeatures, UInt32(truncatingIfNeeded: features))
        setRegister(L.driverFeaturesSel, 1)
        setRegister(L.driverFeatures, UInt32(truncatingIfNeeded: features >> 32))
    }

    /// Programs queue `index` from `configuration` (section 4.2.3.2) and, if `ready`,
    /// sets QueueReady.
    public func setUpQueue(_ index: Int, _ configuration: VirtqueueConfiguration, ready: Bool = true) {
        setRegister(L.queueSel, UInt32(index))
        setRegister(L.queueNum, UInt32(configuration.size))
        for (low, address) in [
            (L.queueDescLow, configuration.descriptorTable), (L.queueDriverLow, configuration.availRing),
            (L.queueDeviceLow, configuration.usedRing),
        ] {
            setRegister(low, UInt32(truncatingIfNeeded: address.value))
            setRegister(low + 4, UInt32(truncatingIfNeeded: address.value >> 32))
        }
        if ready { setRegister(L.queueReady, 1) }
    }

    /// Kicks queue `index`.
    public func notify(queue index: Int) { setRegister(L.queueNotify, UInt32(index)) }

    /// What Linux's interrupt handler does: read InterruptStatus, acknowledge it all.
    @discardableResult
    public func handleInterrupt() -> UInt32 {
        let status = register(L.interruptStatus)
        setRegister(L.interruptACK, status)
        return status
    }

    public func deviceConfig(_ offset: UInt64, size: Int) -> UInt64 {
        device.read(offset: L.config + offset, size: size)
    }
}
