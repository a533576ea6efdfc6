import Synchronization
import SwiftletMemory

/// A virtio device on PCI: the modern transport of virtio 1.2 section 4.1, laid out in BAR0
/// as the "Virtio over PCI" contract says (`VirtioPCILayout`), with MSI-X for interrupts.
///
/// Everything the guest writes is checked: bad queue sizes, rings outside RAM, DRIVER_OK
/// without accepted features and devices failing to start all end in DEVICE_NEEDS_RESET
/// plus a configuration-change interrupt, never in a crash.
///
/// Locking: `serial` orders guest accesses that change transport state (and the device
/// calls they make); `state` guards the registers and is all that device threads take
/// when they signal. No device method is called with `state` held.
public final class VirtioPCIDevice: PCIDevice {
    public let device: any VirtioDevice
    public let memory: GuestMemory
    /// The MSI-X capability: (queues + 1) vectors, table and PBA in BAR0.
    public let msix: MSIXCapability
    public let name: String
    private let interruptLine: (any InterruptLine)?
    private let pciCfgOffset: Int

    private struct State {
        var config: PCIConfigurationSpace
        var common: VirtioCommonConfig
        var isr: UInt8 = 0
        /// Activated and not reset since.
        var live = false
        /// Bumped at every reset, so interrupt handles from earlier activations go quiet.
        var epoch: UInt64 = 0
        var lastError: VirtioTransportError?
    }

    private let state: Mutex<State>
    private let serial = Mutex<Void>(())
    /// How the machine kicks a queue from the host side (`setDoorbell`).
    private let doorbell = Mutex<(@Sendable (Int) -> Void)?>(nil)

    /// Wraps `device` for PCI. MSI-X messages go to `msiDelivery`; `interruptLine`, if
    /// given, is INTA# for a driver that does not enable MSI-X (it must then read the ISR).
    public init(
        device: any VirtioDevice, memory: GuestMemory, msiDelivery: any MSIDelivery,
        interruptLine: (any InterruptLine)? = nil, name: String? = nil
    ) throws(VirtioTransportError) {
        let maxSizes = device.queueMaxSizes
        guard maxSizes.count <= 255 else { throw .tooManyQueues(maxSizes.count) }
        for (queue, size) in maxSizes.enumerated() where size == 0 || size > 32768 || size & (size - 1) != 0 {
            throw .queueMaxSizeInvalid(queue: queue, size: size)
        }
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
        let offered = device.offeredFeatures & ~VirtioFeature.transportReserved | VirtioFeature.transportOffered
        self.device = device
        self.memory = memory
        self.msix = msix
        self.name = name ?? "virtio-\(type)"
        self.interruptLine = interruptLine
        self.pciCfgOffset = pciCfgOffset
        self.state = Mutex(State(
            config: config,
            common: VirtioCommonConfig(offeredFeatures: offered, queueMaxSizes: maxSizes, vectorCount: vectors)))
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
    public var status: UInt8 { state.withLock { $0.common.status } }
    /// The features the driver wrote (meaningful once FEATURES_OK is set).
    public var driverFeatures: UInt64 { state.withLock { $0.common.driverFeatures } }
    /// The features offered, transport bits included.
    public var offeredFeatures: UInt64 { state.withLock { $0.common.offeredFeatures } }
    /// Why DEVICE_NEEDS_RESET was last set, for logs.
    public var lastError: VirtioTransportError? { state.withLock { $0.lastError } }
    /// The MSI-X vector queue `queue` signals (NO_VECTOR = 0xFFFF), nil if no such queue.
    public func msixVector(queue: Int) -> UInt16? {
        state.withLock { s in queue >= 0 && queue < s.common.queues.count ? s.common.queues[queue].msixVector : nil }
    }

    // MARK: PCIDevice

    public var configuration: PCIConfigurationSpace { state.withLock { $0.config } }

    public func configRead(offset: Int, size: Int) -> UInt32 {
        serial.withLock { _ in
            if let window = pciCfgData(offset: offset, size: size) {
                let value = barAccess(offset: window.barOffset, size: window.length, write: nil)
                return UInt32(truncatingIfNeeded: value >> UInt64(8 * window.shift))
            }
            return state.withLock { $0.config.read(offset: offset, size: size) }
        }
    }

    public func configWrite(offset: Int, size: Int, value: UInt32) -> PCIConfigurationSpace.Changes {
        serial.withLock { _ in
            let (changes, config) = state.withLock { s in
                (s.config.write(offset: offset, size: size, value: value), s.config)
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
        let config = state.withLock { $0.config }
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
            resetTransport()
            state.withLock { $0.config.reset() }
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
            return state.withLock { $0.common.read(offset: inner, size: size) }
        case (VirtioPCILayout.commonOffset, let value?):
            writeCommon(offset: inner, size: size, value: value)
        case (VirtioPCILayout.isrOffset, nil):
            return inner == 0 ? readISR() : 0
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

    /// Reading the ISR returns and clears it, and drops INTA# (section 4.1.4.5).
    private func readISR() -> UInt64 {
        let isr = state.withLock { s in
            defer { s.isr = 0 }
            return s.isr
        }
        if isr != 0 { interruptLine?.set(level: false) }
        return UInt64(isr)
    }

    private func notify(offset: UInt64) {
        let multiplier = UInt64(VirtioPCILayout.notifyOffMultiplier)
        guard offset % multiplier == 0 else { return }
        // A kick through an MMIO exit (no ioeventfd caught it: the PCI_CFG window, tests)
        // gets one budget of work on the guest's own vCPU; what is left goes to the event
        // loop through the doorbell rather than looping on a vCPU thread.
        let index = Int(offset / multiplier)
        if queueNotified(index) { doorbell.withLock { $0 }?(index) }
    }

    /// `ring(n)` kicks queue n from the host side, later, on the device's event loop (the
    /// machine signals the queue's ioeventfd): how work left past a device's per-kick
    /// budget gets its next turn. Set before the guest runs.
    public func setDoorbell(_ ring: @escaping @Sendable (Int) -> Void) {
        doorbell.withLock { $0 = ring }
    }

    /// The guest kicked queue `index`: passed on to the device if it is running and the
    /// queue enabled. The machine calls this too, for kicks its ioeventfds caught.
    /// True when the device has work left for which it must be kicked again
    /// (`VirtioDevice.queueNotified`).
    @discardableResult
    public func queueNotified(_ index: Int) -> Bool {
        let forward = state.withLock { s in
            s.live && index >= 0 && index < s.common.queues.count && s.common.queues[index].enabled
        }
        return forward && device.queueNotified(index)
    }

    // MARK: Common configuration and the status machine

    private func writeCommon(offset: UInt64, size: Int, value: UInt64) {
        let action = state.withLock { $0.common.write(offset: offset, size: size, value: value) }
        switch action {
        case .none: break
        case .reset: resetTransport()
        case .activate: activate()
        case .fail(let error): fail(error)
        }
    }

    /// DRIVER_OK: build the queues from the driver's addresses and start the device.
    private func activate() {
        let (common, epoch) = state.withLock { s in
            s.live = true
            return (s.common, s.epoch)
        }
        let features = common.driverFeatures
        var queues: [Virtqueue?] = []
        for (index, registers) in common.queues.enumerated() {
            guard registers.enabled else {
                queues.append(nil)
                continue
            }
            let configuration = VirtqueueConfiguration(
                size: registers.size, descriptorTable: GuestAddress(registers.descriptorTable),
                availRing: GuestAddress(registers.driverArea), usedRing: GuestAddress(registers.deviceArea),
                eventIndex: features & 1 << UInt64(VirtioFeature.ringEventIndex) != 0,
                indirectDescriptors: features & 1 << UInt64(VirtioFeature.ringIndirectDescriptors) != 0)
            do {
                queues.append(try Virtqueue(memory: memory, configuration: configuration))
            } catch {
                fail(.queue(index, error))
                return
            }
        }
        let context = VirtioActivation(
            memory: memory, features: features, queues: queues,
            interrupt: VirtioPCIInterrupt(transport: self, epoch: epoch), doorbell: doorbell.withLock { $0 })
        do {
            try device.activate(context)
        } catch {
            fail(.activationFailed(String(describing: error)))
        }
    }

    /// Device reset (status 0): registers, vector assignments, ISR; then the device.
    private func resetTransport() {
        let hadISR = state.withLock { s in
            s.common.reset()
            s.live = false
            s.epoch &+= 1
            defer { s.isr = 0 }
            return s.isr != 0
        }
        if hadISR { interruptLine?.set(level: false) }
        device.reset()
    }

    /// DEVICE_NEEDS_RESET plus a configuration-change interrupt (section 2.1.2). The
    /// device stops hearing kicks until the driver resets it.
    private func fail(_ error: VirtioTransportError) {
        state.withLock { s in
            s.common.status |= VirtioDeviceStatus.needsReset
            s.live = false
            s.lastError = error
        }
        raiseConfigInterrupt()
    }

    // MARK: Interrupts (from device threads, through VirtioPCIInterrupt)

    func signalUsed(queue: Int, epoch: UInt64) {
        let vector: UInt16? = state.withLock { s in
            guard s.live, s.epoch == epoch, queue >= 0, queue < s.common.queues.count else { return nil }
            return s.common.queues[queue].msixVector
        }
        guard let vector else { return }
        deliver(vector: vector, isrBit: 1)
    }

    func signalConfigChange(epoch: UInt64) {
        let current = state.withLock { s in
            guard s.epoch == epoch else { return false }
            s.common.configGeneration &+= 1
            return true
        }
        if current { raiseConfigInterrupt() }
    }

    func signalNeedsReset(epoch: UInt64) {
        guard state.withLock({ $0.epoch == epoch }) else { return }
        fail(.deviceError)
    }

    private func raiseConfigInterrupt() {
        deliver(vector: state.withLock { $0.common.configMSIXVector }, isrBit: 2)
    }

    /// With MSI-X enabled, `vector` (nothing for NO_VECTOR); without, the ISR bit and
    /// INTA# (section 4.1.5.3 and 4.1.5.4).
    private func deliver(vector: UInt16, isrBit: UInt8) {
        if msix.isEnabled {
            if vector != VirtioPCILayout.noVector { msix.signal(vector: Int(vector)) }
            return
        }
        state.withLock { $0.isr |= isrBit }
        interruptLine?.set(level: true)
    }
}
