import Synchronization
import SwiftletMemory

/// The half of a virtio transport that does not care how the driver reaches it: the
/// registers of section 4.1.4.3 and the status machine (`VirtioCommonConfig`), the
/// interrupt status bits, starting and resetting the device, kicks, and the interrupts a
/// running device sends. `VirtioPCIDevice` and `VirtioMMIODevice` each put their own
/// register layout in front of one of these: one engine, two transports.
///
/// Locking: the transport orders the guest's accesses that change state (its `serial`
/// lock) and calls in here with it held; `state` guards the registers and is all that
/// device threads take when they signal. No device method is called with `state` held.
final class VirtioTransportCore: Sendable {
    let device: any VirtioDevice
    let memory: GuestMemory
    let route: VirtioInterruptRoute

    struct State {
        var common: VirtioCommonConfig
        /// The ISR (PCI) or InterruptStatus (MMIO) bits: 1 used buffers, 2 config change.
        var isr: UInt8 = 0
        /// Activated and not reset since.
        var live = false
        /// Bumped at every reset, so interrupt handles from earlier activations go quiet.
        var epoch: UInt64 = 0
        var lastError: VirtioTransportError?
    }

    let state: Mutex<State>
    /// The queues handed to the device at its last activation, kept so a snapshot can read
    /// their positions (only while the device thread is parked); emptied at reset.
    let activeQueues = Mutex<[Virtqueue?]>([])
    /// How the machine kicks a queue from the host side (`setDoorbell`).
    private let doorbell = Mutex<(@Sendable (Int) -> Void)?>(nil)

    /// Checks `device`'s queues (at most `maxQueues`, sizes powers of two up to 32768)
    /// and prepares the registers with `vectorCount` MSI-X vectors (0 for none).
    init(
        device: any VirtioDevice, memory: GuestMemory, maxQueues: Int, vectorCount: Int, route: VirtioInterruptRoute
    ) throws(VirtioTransportError) {
        let maxSizes = device.queueMaxSizes
        guard maxSizes.count <= maxQueues else { throw .tooManyQueues(maxSizes.count) }
        for (queue, size) in maxSizes.enumerated() where size == 0 || size > 32768 || size & (size - 1) != 0 {
            throw .queueMaxSizeInvalid(queue: queue, size: size)
        }
        let offered = device.offeredFeatures & ~VirtioFeature.transportReserved | VirtioFeature.transportOffered
        self.device = device
        self.memory = memory
        self.route = route
        self.state = Mutex(State(
            common: VirtioCommonConfig(offeredFeatures: offered, queueMaxSizes: maxSizes, vectorCount: vectorCount)))
    }

    // MARK: Observation

    var status: UInt8 { state.withLock { $0.common.status } }
    var driverFeatures: UInt64 { state.withLock { $0.common.driverFeatures } }
    var offeredFeatures: UInt64 { state.withLock { $0.common.offeredFeatures } }
    var lastError: VirtioTransportError? { state.withLock { $0.lastError } }
    func msixVector(queue: Int) -> UInt16? {
        state.withLock { s in queue >= 0 && queue < s.common.queues.count ? s.common.queues[queue].msixVector : nil }
    }

    /// A look at the registers, for what a transport shows beyond section 4.1.4.3's
    /// layout (virtio-mmio's QueueNumMax).
    func withCommon<T>(_ body: (VirtioCommonConfig) -> T) -> T {
        state.withLock { body($0.common) }
    }

    // MARK: Guest accesses (transport's serial lock held)

    func readCommon(offset: UInt64, size: Int) -> UInt64 {
        state.withLock { $0.common.read(offset: offset, size: size) }
    }

    func writeCommon(offset: UInt64, size: Int, value: UInt64) {
        perform(state.withLock { $0.common.write(offset: offset, size: size, value: value) })
    }

    /// virtio-mmio's QueueReady = 0: the driver takes back a queue before DRIVER_OK.
    func disableSelectedQueue() {
        state.withLock { $0.common.disableSelectedQueue() }
    }

    /// PCI's ISR: reading returns and clears it (section 4.1.4.5), which drops INTx.
    func readAndClearInterruptStatus() -> UInt8 {
        let isr = state.withLock { s in
            defer { s.isr = 0 }
            return s.isr
        }
        if isr != 0 { route.line(false) }
        return isr
    }

    /// virtio-mmio's InterruptStatus: reading leaves it alone (section 4.2.2).
    var interruptStatus: UInt8 { state.withLock { $0.isr } }

    /// virtio-mmio's InterruptACK: the bits the driver has handled. The line drops once
    /// nothing is left pending.
    func acknowledgeInterrupts(_ bits: UInt8) {
        let cleared = state.withLock { s in
            let had = s.isr
            s.isr &= ~bits
            return had != 0 && s.isr == 0
        }
        if cleared { route.line(false) }
    }

    /// The guest kicked queue `index` through an exit: one budget of work on its own
    /// vCPU; what is left goes to the event loop through the doorbell rather than looping
    /// on a vCPU thread.
    func notify(queue index: Int) {
        if queueNotified(index) { doorbell.withLock { $0 }?(index) }
    }

    func setDoorbell(_ ring: @escaping @Sendable (Int) -> Void) {
        doorbell.withLock { $0 = ring }
    }

    /// A kick passed on to the device if it is running and the queue enabled. True when
    /// the device has work left for which it must be kicked again.
    func queueNotified(_ index: Int) -> Bool {
        let forward = state.withLock { s in
            s.live && index >= 0 && index < s.common.queues.count && s.common.queues[index].enabled
        }
        return forward && device.queueNotified(index)
    }

    /// Device reset (status 0): registers, vector assignments, interrupt status; then the device.
    func reset() {
        let hadISR = state.withLock { s in
            s.common.reset()
            s.live = false
            s.epoch &+= 1
            defer { s.isr = 0 }
            return s.isr != 0
        }
        activeQueues.withLock { $0 = [] }
        if hadISR { route.line(false) }
        device.reset()
    }

    private func perform(_ action: VirtioCommonConfig.Action) {
        switch action {
        case .none: break
        case .reset: reset()
        case .activate: activate()
        case .fail(let error): fail(error)
        }
    }

    /// DRIVER_OK: build the queues from the driver's addresses and start the device. A
    /// restore passes each queue's saved position instead of starting them at 0.
    func activate(restoring positions: [VirtqueueState?] = []) {
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
                if index < positions.count, let position = positions[index] {
                    guard position.configuration == configuration else {
                        fail(.stateMismatch("queue \(index)'s position does not match its registers"))
                        return
                    }
                    queues.append(try Virtqueue(memory: memory, state: position))
                } else {
                    queues.append(try Virtqueue(memory: memory, configuration: configuration))
                }
            } catch {
                fail(.queue(index, error))
                return
            }
        }
        let context = VirtioActivation(
            memory: memory, features: features, queues: queues,
            interrupt: VirtioTransportInterrupt(core: self, epoch: epoch), doorbell: doorbell.withLock { $0 })
        activeQueues.withLock { $0 = queues }
        do {
            try device.activate(context)
        } catch {
            fail(.activationFailed(String(describing: error)))
        }
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

    // MARK: Interrupts (from device threads, through VirtioTransportInterrupt)

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

    /// By vector when the transport can (MSI-X enabled); otherwise the status bit and
    /// the line (sections 4.1.5.3/4.1.5.4 and 4.2.3.4).
    private func deliver(vector: UInt16, isrBit: UInt8) {
        if route.vector(vector) { return }
        state.withLock { $0.isr |= isrBit }
        route.line(true)
    }
}

/// How a transport's interrupts leave it.
struct VirtioInterruptRoute: Sendable {
    /// Sends `vector` (NO_VECTOR: nothing) and returns true if the transport delivers by
    /// message now; false sends the interrupt through the status bits and `line`.
    let vector: @Sendable (UInt16) -> Bool
    /// true: an interrupt is pending (set the status bit first); false: none is any more.
    let line: @Sendable (Bool) -> Void
}

/// The `VirtioInterrupt` handed to a device at activation: routes to the transport while
/// the activation lasts, and goes quiet once the device is reset (its epoch is stale).
final class VirtioTransportInterrupt: VirtioInterrupt {
    private weak let core: VirtioTransportCore?
    private let epoch: UInt64

    init(core: VirtioTransportCore, epoch: UInt64) {
        self.core = core
        self.epoch = epoch
    }

    func signalUsed(queue: Int) { core?.signalUsed(queue: queue, epoch: epoch) }
    func signalConfigChange() { core?.signalConfigChange(epoch: epoch) }
    func signalNeedsReset() { core?.signalNeedsReset(epoch: epoch) }
}
