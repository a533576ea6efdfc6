import SwiftletMemory

/// A virtio device (console, block, rng...) as the transport sees it: what it offers, its
/// configuration, and what to do when the driver starts it, kicks it or resets it
/// (virtio 1.2 chapter 2 and section 3.1).
///
/// Calls come from vCPU threads (config accesses, kicks through the transport) and from
/// the machine's event loop (kicks caught by an ioeventfd): a device guards its own state.
/// The transport never calls it with a transport lock held that the device's own threads
/// need, so a device may signal interrupts from inside any of these calls.
public protocol VirtioDevice: AnyObject, Sendable {
    /// The virtio device ID (virtio 1.2 section 5): net 1, block 2, console 3, rng 4.
    var deviceType: UInt16 { get }
    /// The largest size of each queue (powers of two, at most 32768); their count is the
    /// number of queues.
    var queueMaxSizes: [UInt16] { get }
    /// Device feature bits. The transport adds VERSION_1, RING_INDIRECT_DESC and
    /// RING_EVENT_IDX and hides any other transport bit (28...40) it does not implement.
    var offeredFeatures: UInt64 { get }
    /// A read of 1, 2, 4 or 8 bytes of the device-specific configuration at `offset`.
    /// Reads past its end return 0 (the device checks bounds).
    func configRead(offset: UInt64, size: Int) -> UInt64
    /// A write to the device-specific configuration; outside it or to read-only fields,
    /// ignored.
    func configWrite(offset: UInt64, size: Int, value: UInt64)
    /// The driver set DRIVER_OK: start serving the queues. Throwing marks the device
    /// DEVICE_NEEDS_RESET. Chains published before this call brought no kick the device
    /// heard, so a device looks at its queues once it is running.
    func activate(_ context: VirtioActivation) throws
    /// The driver kicked queue `index` (only after a successful `activate`, until reset).
    /// Returns true when the device stopped on its per-kick budget with chains still
    /// waiting: the caller rings the queue's doorbell (`VirtioActivation.doorbell`) so
    /// the device gets another turn once other work had its own, since the driver will
    /// not kick for chains it already published.
    @discardableResult
    func queueNotified(_ index: Int) -> Bool
    /// The driver reset the device (or the machine did): stop using the queues and the
    /// interrupt handle of the last activation and forget negotiated state. May be called
    /// without a preceding `activate`.
    func reset()
}

/// Everything a device needs to run, handed over at DRIVER_OK.
public struct VirtioActivation: Sendable {
    public let memory: GuestMemory
    /// The features the driver accepted (a subset of those offered, VERSION_1 included).
    public let features: UInt64
    /// One entry per queue (index = queue index): the validated queue, or nil for a queue
    /// the driver did not enable.
    public let queues: [Virtqueue?]
    /// Interrupts for this activation; they go dead at the next reset.
    public let interrupt: any VirtioInterrupt
    /// Kicks queue n again from the host side, later, on the event loop (the machine
    /// signals its ioeventfd); nil where there is none (tests), and work left past a
    /// budget then waits for the driver's next kick.
    public let doorbell: (@Sendable (Int) -> Void)?

    public init(
        memory: GuestMemory, features: UInt64, queues: [Virtqueue?], interrupt: any VirtioInterrupt,
        doorbell: (@Sendable (Int) -> Void)? = nil
    ) {
        self.memory = memory
        self.features = features
        self.queues = queues
        self.interrupt = interrupt
        self.doorbell = doorbell
    }

    /// Whether feature bit `bit` was negotiated.
    public func has(_ bit: Int) -> Bool { bit >= 0 && bit < 64 && features & (1 << UInt64(bit)) != 0 }
}

/// A device's way to interrupt the driver. Thread-safe; calls after a reset are ignored.
public protocol VirtioInterrupt: AnyObject, Sendable {
    /// Used buffers were added to queue `queue` (and `Virtqueue.needsNotification()` said
    /// the driver wants to hear): send that queue's interrupt.
    func signalUsed(queue: Int)
    /// The device configuration changed: bump config_generation and interrupt.
    func signalConfigChange()
    /// The device met an error it cannot recover from (a broken ring, for instance):
    /// set DEVICE_NEEDS_RESET and interrupt (virtio 1.2 section 2.1.2).
    func signalNeedsReset()
}
