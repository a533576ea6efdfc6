import Synchronization
import SwiftletMemory

/// A virtio device on virtio-mmio (virtio 1.2 section 4.2), register layout version 2: a
/// `BusDevice` of `VirtioMMIOLayout.windowSize` bytes in front of the same
/// `VirtioTransportCore` that virtio-pci uses, so both transports negotiate features, set
/// up queues and meet a hostile driver alike (bad queue sizes, rings outside RAM,
/// DRIVER_OK without FEATURES_OK: DEVICE_NEEDS_RESET plus a configuration interrupt).
///
/// Interrupts are edge-triggered, with InterruptStatus as the source of truth: every
/// used-buffer or configuration event sets its bit and sends one edge, even when the bit
/// was set already. Linux's handler reads InterruptStatus, acknowledges what it read and
/// only then looks at the rings, so an event that lands after the read brings an edge of
/// its own, which the local APIC holds while the handler runs: nothing is lost. A level
/// line would need KVM to tell us of every EOI (a resample eventfd, a host wake-up per
/// interrupt) only to find the status usually clear; an edge costs one eventfd write.
/// The price is that the line cannot be shared, so each device has its own IOAPIC pin,
/// and the firmware tables (MP table, DSDT `_CRS`) describe those pins as edge-triggered,
/// active-high.
///
/// Accesses to the registers below 0x100 must be 32-bit and aligned (section 4.2.2.2);
/// others read 0 and are dropped. The device configuration takes 1, 2, 4 or 8 bytes.
public final class VirtioMMIODevice: BusDevice {
    public var device: any VirtioDevice { core.device }
    public var memory: GuestMemory { core.memory }
    public let name: String
    let core: VirtioTransportCore
    private let serial = Mutex<Void>(())

    /// Wraps `device` for virtio-mmio; `interrupt` is its own edge-triggered IOAPIC pin:
    /// the transport raises and drops it at once for every interrupt.
    public init(
        device: any VirtioDevice, memory: GuestMemory, interrupt: any InterruptLine, name: String? = nil
    ) throws(VirtioTransportError) {
        let route = VirtioInterruptRoute(
            vector: { _ in false },
            line: { [interrupt] pending in
                guard pending else { return }
                interrupt.set(level: true)
                interrupt.set(level: false)
            })
        // QueueSel is 32 bits wide, but queue indices are 16 bits everywhere else.
        self.core = try VirtioTransportCore(
            device: device, memory: memory, maxQueues: Int(UInt16.max), vectorCount: 0, route: route)
        self.name = name ?? "virtio-\(device.deviceType)"
    }

    // MARK: Observation (machine and tests)

    /// The device status register as the driver sees it.
    public var status: UInt8 { core.status }
    /// The features the driver wrote (meaningful once FEATURES_OK is set).
    public var driverFeatures: UInt64 { core.driverFeatures }
    /// The features offered, transport bits included.
    public var offeredFeatures: UInt64 { core.offeredFeatures }
    /// Why DEVICE_NEEDS_RESET was last set, for logs.
    public var lastError: VirtioTransportError? { core.lastError }
    /// InterruptStatus, as the driver would read it.
    public var interruptStatus: UInt8 { core.interruptStatus }

    // MARK: Kicks from the machine

    /// `ring(n)` kicks queue n from the host side, later, on the device's event loop (the
    /// machine signals the queue's ioeventfd): how work left past a device's per-kick
    /// budget gets its next turn. Set before the guest runs.
    public func setDoorbell(_ ring: @escaping @Sendable (Int) -> Void) {
        core.setDoorbell(ring)
    }

    /// The guest kicked queue `index` (the machine's ioeventfd caught the QueueNotify
    /// write): passed on if the device runs and the queue is ready. True when the device
    /// has work left for which it must be kicked again.
    @discardableResult
    public func queueNotified(_ index: Int) -> Bool {
        core.queueNotified(index)
    }

    /// A machine reset of the device, as the driver's writing 0 to Status.
    public func reset() {
        serial.withLock { _ in core.reset() }
    }

    // MARK: BusDevice

    public func read(offset: UInt64, size: Int) -> UInt64 {
        if offset >= VirtioMMIOLayout.config {
            guard [1, 2, 4, 8].contains(size), offset < VirtioMMIOLayout.windowSize else { return 0 }
            return serial.withLock { _ in device.configRead(offset: offset - VirtioMMIOLayout.config, size: size) }
        }
        guard size == 4, offset % 4 == 0 else { return 0 }
        switch offset {
        case VirtioMMIOLayout.magicValue: return UInt64(VirtioMMIOLayout.magic)
        case VirtioMMIOLayout.versionRegister: return UInt64(VirtioMMIOLayout.version)
        case VirtioMMIOLayout.deviceID: return UInt64(device.deviceType)
        case VirtioMMIOLayout.vendorIDRegister: return UInt64(VirtioMMIOLayout.vendorID)
        case VirtioMMIOLayout.interruptStatus: return UInt64(core.interruptStatus)
        case VirtioMMIOLayout.queueNumMax:
            // 0: no such queue (section 4.2.3.2).
            return core.withCommon { common in
                let queue = Int(common.queueSelect)
                return queue < common.queues.count ? UInt64(common.queues[queue].maxSize) : 0
            }
        case VirtioMMIOLayout.shmLenLow, VirtioMMIOLayout.shmLenHigh, VirtioMMIOLayout.shmBaseLow,
            VirtioMMIOLayout.shmBaseHigh:
            return 0xFFFF_FFFF  // no shared memory regions: length -1 (section 4.2.2)
        default:
            guard let field = Self.commonField(offset) else { return 0 }
            return serial.withLock { _ in core.readCommon(offset: field.offset, size: field.width) }
        }
    }

    public func write(offset: UInt64, size: Int, value: UInt64) {
        if offset >= VirtioMMIOLayout.config {
            guard [1, 2, 4, 8].contains(size), offset < VirtioMMIOLayout.windowSize else { return }
            serial.withLock { _ in device.configWrite(offset: offset - VirtioMMIOLayout.config, size: size, value: value) }
            return
        }
        guard size == 4, offset % 4 == 0 else { return }
        let value = value & 0xFFFF_FFFF
        switch offset {
        case VirtioMMIOLayout.queueNotify:
            // Without VIRTIO_F_NOTIFICATION_DATA the value is the queue's index. A kick
            // through an exit (no ioeventfd matched it) gets one budget on this vCPU and
            // the doorbell for the rest; kicks do not wait behind an activation.
            core.notify(queue: Int(value))
        case VirtioMMIOLayout.interruptACK:
            core.acknowledgeInterrupts(UInt8(truncatingIfNeeded: value))
        case VirtioMMIOLayout.queueSel:
            // A selector past 16 bits selects no queue, rather than its truncation.
            serial.withLock { _ in core.writeCommon(offset: 0x16, size: 2, value: min(value, 0xFFFF)) }
        case VirtioMMIOLayout.queueNum:
            // Likewise a size past 16 bits is no size at all: QueueReady then refuses it.
            serial.withLock { _ in core.writeCommon(offset: 0x18, size: 2, value: value > 0xFFFF ? 0 : value) }
        case VirtioMMIOLayout.queueReady:
            serial.withLock { _ in
                switch value {
                case 1: core.writeCommon(offset: 0x1C, size: 2, value: 1)
                case 0: core.disableSelectedQueue()
                default: break
                }
            }
        default:
            guard let field = Self.commonField(offset), Self.writable(offset) else { return }
            serial.withLock { _ in core.writeCommon(offset: field.offset, size: field.width, value: value) }
        }
    }

    /// Where a virtio-mmio register lives in section 4.1.4.3's common configuration,
    /// which the core keeps: 64-bit queue addresses as their two halves.
    private static func commonField(_ offset: UInt64) -> (offset: UInt64, width: Int)? {
        switch offset {
        case VirtioMMIOLayout.deviceFeatures: (0x04, 4)
        case VirtioMMIOLayout.deviceFeaturesSel: (0x00, 4)
        case VirtioMMIOLayout.driverFeatures: (0x0C, 4)
        case VirtioMMIOLayout.driverFeaturesSel: (0x08, 4)
        case VirtioMMIOLayout.queueSel: (0x16, 2)
        case VirtioMMIOLayout.queueNum: (0x18, 2)
        case VirtioMMIOLayout.queueReady: (0x1C, 2)
        case VirtioMMIOLayout.status: (0x14, 1)
        case VirtioMMIOLayout.queueDescLow: (0x20, 4)
        case VirtioMMIOLayout.queueDescHigh: (0x24, 4)
        case VirtioMMIOLayout.queueDriverLow: (0x28, 4)
        case VirtioMMIOLayout.queueDriverHigh: (0x2C, 4)
        case VirtioMMIOLayout.queueDeviceLow: (0x30, 4)
        case VirtioMMIOLayout.queueDeviceHigh: (0x34, 4)
        case VirtioMMIOLayout.configGeneration: (0x15, 1)
        default: nil
        }
    }

    /// DeviceFeatures and ConfigGeneration are read-only.
    private static func writable(_ offset: UInt64) -> Bool {
        offset != VirtioMMIOLayout.deviceFeatures && offset != VirtioMMIOLayout.configGeneration
    }
}
