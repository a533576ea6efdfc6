import Synchronization
import SwiftletMemory

/// A virtio device on PCI: the modern transport of virtio 1.2 section 4.1, laid out in BAR0
/// as the "Virtio over PCI" contract says (`VirtioPCILayout`), with MSI-X for interrupts.
/// The registers, the status machine, kicks and interrupts are `VirtioTransportCore`'s,
/// shared with virtio-mmio; this class adds PCI's configuration space, BAR0 and MSI-X.
///
/// Everything the guest writes is checked: bad queue sizes, rings outside RAM, DRIVER_OK
/// without accepted features and devices failing to start all end in DEVICE_NEEDS_RESET
/// plus a configuration-change interrupt, never in a crash.
///
/// Locking: `serial` orders guest accesses that change transport state (and the device
/// calls they make); `config` guards the configuration space. Device threads signal
/// through the core, which takes only its own lock.
public final class VirtioPCIDevice: PCIDevice {
    public var device: any VirtioDevice { core.device }
    public var memory: GuestMemory { core.memory }
    /// The MSI-X capability: (queues + 1) vectors, table and PBA in BAR0.
    public let msix: MSIXCapability
    public let name: String
    private let pciCfgOffset: Int
    let core: VirtioTransportCore
    let config: Mutex<PCIConfigurationSpace>
    private let serial = Mutex<Void>(())

    /// Wraps `device` for PCI. MSI-X messages go to `msiDelivery`; `interruptLine`, if
    /// given, is INTA# for a driver that does not enable MSI-X (it must then read the ISR).
    public init(
        device: any VirtioDevice, memory: GuestMemory, msiDelivery: any MSIDelivery,
        interruptLine: (any InterruptLine)? = nil, name: String? = nil
    ) throws(VirtioTransportError) {
        let maxSizes = device.queueMaxSizes
        // Checked before the MSI-X table is sized from it; the core checks the sizes.
        guard maxSizes.count <= 255 else { throw .tooManyQueues(maxSizes.count) }
        let type = device.deviceType
        var config = PCIConfigurationSpace(
            vendorID: VirtioPCILayout.vendorID, deviceID: VirtioPCILayout.deviceIDBase &+ type,
            classCode: VirtioPCILayout.classCode(deviceType: type), revision: VirtioPCILayout.revision,
            subsystemVendorID: VirtioPCILayout.subsystemVendorID, subsystemID: VirtioPCILayout.subsystemID,
            interruptPin: interruptLine == nil ? 0 : 1)
        let vectors = maxSizes.count + 1
        let msix: MSIXCapability
        let pciCfgOffset: Int
        do {
            try config.addBAR(PCIBAR(index: VirtioPCILayout.bar, size: VirtioPCILayout.barSize, kind: .memory64))
            for (type, offset) in [
                (VirtioPCILayout.commonCfg, VirtioPCILayout.commonOffset),
                (VirtioPCILayout.notifyCfg, VirtioPCILayout.notifyOffset),
                (VirtioPCILayout.isrCfg, VirtioPCILayout.isrOffset),
                (VirtioPCILayout.deviceCfg, VirtioPCILayout.deviceOffset),
            ] {
                let extra = type == VirtioPCILayout.notifyCfg ? Self.le32(VirtioPCILayout.notifyOffMultiplier) : []
                try config.appendCapability(
                    id: VirtioPCILayout.capabilityVendor,
                    body: Self.virtioCapBody(type: type, offset: UInt32(offset), length: UInt32(VirtioPCILayout.regionSize), extra: extra))
            }
            // VIRTIO_PCI_CAP_PCI_CFG: the driver writes bar/offset/length, then accesses
            // pci_cfg_data (section 4.1.4.9). bar, offset, length and data are writable.
            let cfgBody = Self.virtioCapBody(type: VirtioPCILayout.pciCfg, offset: 0, length: 0, extra: [0, 0, 0, 0], bar: 0)
            let cfgMask: [UInt8] = [0, 0, 0xFF, 0, 0, 0] + Array(repeating: 0xFF, count: 12)
            pciCfgOffset = try config.appendCapability(id: VirtioPCILayout.capabilityVendor, body: cfgBody, writableMask: cfgMask)
            msix = try MSIXCapability(
                vectors: vectors, tableBAR: VirtioPCILayout.bar, tableOffset: UInt32(VirtioPCILayout.msixTableOffset),
                pbaBAR: VirtioPCILayout.bar, pbaOffset: UInt32(VirtioPCILayout.msixPBAOffset), delivery: msiDelivery,
                installingIn: &config)
        } catch {
            throw .configuration(error)
        }
        // With MSI-X enabled interrupts go by vector (section 4.1.5.3); without, through
        // the ISR and INTA# (section 4.1.5.4).
        let route = VirtioInterruptRoute(
            vector: { [msix] vector in
                guard msix.isEnabled else { return false }
                if vector != VirtioPCILayout.noVector { msix.signal(vector: Int(vector)) }
                return true
            },
            line: { [interruptLine] level in interruptLine?.set(level: level) })
        self.core = try VirtioTransportCore(
            device: device, memory: memory, maxQueues: 255, vectorCount: vectors, route: route)
        self.msix = msix
        self.name = name ?? "virtio-\(type)"
        self.pciCfgOffset = pciCfgOffset
        self.config = Mutex(config)
    }

    /// virtio_pci_cap after cap_vndr and cap_next: cap_len, cfg_type, bar, id, padding[2],
    /// offset, length, then `extra` (notify_off_multiplier or pci_cfg_data).
    private static func virtioCapBody(type: UInt8, offset: UInt32, length: UInt32, extra: [UInt8], bar: UInt8 = 0) -> [UInt8] {
        [UInt8(16 + extra.count), type, bar, 0, 0, 0] + le32(offset) + le32(length) + extra
    }

    private static func le32(_ value: UInt32) -> [UInt8] {
        (0..<4).map { UInt8(truncatingIfNeeded: value >> UInt32(8 * $0)) }
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
    /// The MSI-X vector queue `queue` signals (NO_VECTOR = 0xFFFF), nil if no such queue.
    public func msixVector(queue: Int) -> UInt16? { core.msixVector(queue: queue) }

    // MARK: PCIDevice

    public var configuration: PCIConfigurationSpace { config.withLock { $0 } }

    public func configRead(offset: Int, size: Int) -> UInt32 {
        serial.withLock { _ in
            if let window = pciCfgData(offset: offset, size: size) {
                let value = barAccess(offset: window.barOffset, size: window.length, write: nil)
                return UInt32(truncatingIfNeeded: value >> UInt64(8 * window.shift))
            }
            return config.withLock { $0.read(offset: offset, size: size) }
        }
    }

    public func configWrite(offset: Int, size: Int, value: UInt32) -> PCIConfigurationSpace.Changes {
        serial.withLock { _ in
            let (changes, config) = self.config.withLock { c in
                (c.write(offset: offset, size: size, value: value), c)
            }
            msix.configurationWritten(config, offset: offset, size: size)
            if let window = pciCfgData(offset: offset, size: size) {
                let data = UInt64(config.read(offset: pciCfgOffset + 16, size: 4))
                _ = barAccess(offset: window.barOffset, size: window.length, write: data)
            }
            return changes
        }
    }

    /// If a config access hits pci_cfg_data and the capability names a valid BAR0 window,
    /// where that window is (section 4.1.4.9.1: length 1, 2 or 4, offset aligned to it).
    private func pciCfgData(offset: Int, size: Int) -> (barOffset: UInt64, length: Int, shift: Int)? {
        let data = pciCfgOffset + 16
        guard offset >= data, offset < data + 4 else { return nil }
        let config = self.config.withLock { $0 }
        let bar = config.read(offset: pciCfgOffset + 4, size: 1)
        let barOffset = UInt64(config.read(offset: pciCfgOffset + 8, size: 4))
        let length = Int(config.read(offset: pciCfgOffset + 12, size: 4))
        guard bar == UInt32(VirtioPCILayout.bar), [1, 2, 4].contains(length), barOffset % UInt64(length) == 0,
            barOffset + UInt64(length) <= VirtioPCILayout.barSize
        else { return nil }
        return (barOffset, length, offset - data)
    }

    public func barRead(bar: Int, offset: UInt64, size: Int) -> UInt64 {
        guard bar == VirtioPCILayout.bar else { return 0 }
        return serial.withLock { _ in barAccess(offset: offset, size: size, write: nil) }
    }

    public func barWrite(bar: Int, offset: UInt64, size: Int, value: UInt64) {
        guard bar == VirtioPCILayout.bar else { return }
        // Kicks do not wait behind a slow activation or reset: the device copes with
        // kicks from ioeventfds at any moment anyway.
        if offset >= VirtioPCILayout.notifyOffset, offset - VirtioPCILayout.notifyOffset < VirtioPCILayout.regionSize {
            notify(offset: offset - VirtioPCILayout.notifyOffset)
            return
        }
        serial.withLock { _ in _ = barAccess(offset: offset, size: size, write: value) }
    }

    /// Function-level reset: the virtio device, MSI-X and configuration space.
    public func reset() {
        serial.withLock { _ in
            core.reset()
            config.withLock { $0.reset() }
            msix.reset()
        }
    }

    // MARK: BAR0 regions

    /// One access inside BAR0, `serial` held. An access must lie inside one region;
    /// anything else reads 0 and is dropped.
    private func barAccess(offset: UInt64, size: Int, write value: UInt64?) -> UInt64 {
        guard [1, 2, 4, 8].contains(size), offset < VirtioPCILayout.barSize else { return 0 }
        let region = offset / VirtioPCILayout.regionSize * VirtioPCILayout.regionSize
        let inner = offset - region
        guard inner + UInt64(size) <= VirtioPCILayout.regionSize else { return 0 }
        switch (region, value) {
        case (VirtioPCILayout.commonOffset, nil):
            return core.readCommon(offset: inner, size: size)
        case (VirtioPCILayout.commonOffset, let value?):
            core.writeCommon(offset: inner, size: size, value: value)
        case (VirtioPCILayout.isrOffset, nil):
            // Reading the ISR returns and clears it, and drops INTA# (section 4.1.4.5).
            return inner == 0 ? UInt64(core.readAndClearInterruptStatus()) : 0
        case (VirtioPCILayout.deviceOffset, nil):
            return device.configRead(offset: inner, size: size)
        case (VirtioPCILayout.deviceOffset, let value?):
            device.configWrite(offset: inner, size: size, value: value)
        case (VirtioPCILayout.notifyOffset, _?):
            notify(offset: inner)
        case (VirtioPCILayout.msixTableOffset, nil):
            return msix.tableRead(offset: inner, size: size)
        case (VirtioPCILayout.msixTableOffset, let value?):
            msix.tableWrite(offset: inner, size: size, value: value)
        case (VirtioPCILayout.msixPBAOffset, nil):
            return msix.pbaRead(offset: inner, size: size)
        default:
            break  // ISR and PBA writes, notify reads, the unused rest of the BAR
        }
        return 0
    }

    private func notify(offset: UInt64) {
        let multiplier = UInt64(VirtioPCILayout.notifyOffMultiplier)
        guard offset % multiplier == 0 else { return }
        // A kick through an MMIO exit: no ioeventfd caught it (the PCI_CFG window, tests).
        core.notify(queue: Int(offset / multiplier))
    }

    /// `ring(n)` kicks queue n from the host side, later, on the device's event loop (the
    /// machine signals the queue's ioeventfd): how work left past a device's per-kick
    /// budget gets its next turn. Set before the guest runs.
    public func setDoorbell(_ ring: @escaping @Sendable (Int) -> Void) {
        core.setDoorbell(ring)
    }

    /// The guest kicked queue `index`: passed on to the device if it is running and the
    /// queue enabled. The machine calls this too, for kicks its ioeventfds caught.
    /// True when the device has work left for which it must be kicked again
    /// (`VirtioDevice.queueNotified`).
    @discardableResult
    public func queueNotified(_ index: Int) -> Bool {
        core.queueNotified(index)
    }
}
