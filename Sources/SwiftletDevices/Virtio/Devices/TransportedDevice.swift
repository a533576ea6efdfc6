import Synchronization

/// Puts a device core (block, console, rng) behind the transport's `VirtioDevice`.
///
/// The core does one thing at a time and knows nothing of threads or interrupts; the
/// transport calls from vCPU threads (config, DRIVER_OK, reset) and the event loop
/// (kicks). This adapter serialises the two with one lock and turns the core's answers
/// into interrupts: "the driver should hear" becomes `signalUsed`, a broken ring
/// becomes DEVICE_NEEDS_RESET. A device that needs a reset gets nothing more, neither
/// kicks nor host input, until the driver resets it: a source that keeps firing (a
/// readable tap, a doorbell) must not make it fail again and again.
public final class TransportedDevice<Core: VirtioDeviceCore>: VirtioDevice, @unchecked Sendable {
    // @unchecked: `core` is only touched with `lock` held; `interrupt` likewise.
    private let core: Core
    private let lock = Mutex<(any VirtioInterrupt)?>(nil)
    /// The running activation's queues (touched only with `lock` held): to see whether a
    /// service pass left work for another turn.
    private var queues: [Virtqueue] = []
    /// A broken ring failed the running activation (touched only with `lock` held).
    private var failed = false
    /// Told of activations, kicks and failures, for --verbose; nil to stay quiet.
    private let trace: (@Sendable (String) -> Void)?

    public init(_ core: Core, trace: (@Sendable (String) -> Void)? = nil) {
        self.core = core
        self.trace = trace
    }

    public var deviceType: UInt16 { core.deviceID }
    public var queueMaxSizes: [UInt16] { core.queueMaxSizes }
    public var offeredFeatures: UInt64 { core.deviceFeatures }

    public func configRead(offset: UInt64, size: Int) -> UInt64 {
        guard offset < 0x1000 else { return 0 }
        return lock.withLock { _ in core.configRead(offset: Int(offset), size: size) }
    }

    public func configWrite(offset: UInt64, size: Int, value: UInt64) {
        guard offset < 0x1000 else { return }
        lock.withLock { _ in core.configWrite(offset: Int(offset), size: size, value: value) }
    }

    public func activate(_ context: VirtioActivation) throws {
        // Every queue the device has must be running: our devices use all of theirs.
        let queues = context.queues.compactMap { $0 }
        guard queues.count == context.queues.count else {
            throw VirtioDeviceError.queueCount(device: "\(Core.self)", expected: context.queues.count, got: queues.count)
        }
        try lock.withLock { interrupt in
            try core.activate(features: context.features, queues: queues)
            interrupt = context.interrupt
            self.queues = queues
            failed = false
        }
        trace?("driver started it: features 0x\(String(context.features, radix: 16)), queue sizes \(queues.map(\.size))")
        // Chains published before DRIVER_OK brought no kick we heard: look now. Work
        // left past the budget goes to the event loop (we are on a vCPU thread).
        for index in queues.indices where queueNotified(index) { context.doorbell?(index) }
    }

    @discardableResult
    public func queueNotified(_ index: Int) -> Bool {
        let (interrupt, result, unfinished) = lock.withLock {
            interrupt -> ((any VirtioInterrupt)?, Result<Bool, VirtqueueError>, Bool) in
            guard interrupt != nil, !failed else { return (nil, .success(false), false) }
            do throws(VirtqueueError) {
                let notify = try core.process(queue: index)
                let unfinished = queues.indices.contains(index) && queues[index].serviceUnfinished
                return (interrupt, .success(notify), unfinished)
            } catch {
                failed = true
                return (interrupt, .failure(error), false)
            }
        }
        switch result {
        case .success(let notify):
            trace?("queue \(index) kicked\(notify ? ", interrupting the driver" : "")\(unfinished ? ", work left" : "")")
            if notify { interrupt?.signalUsed(queue: index) }
        case .failure(let error):
            trace?("queue \(index) is broken, device needs a reset: \(error)")
            interrupt?.signalNeedsReset()
        }
        return unfinished
    }

    public func reset() {
        lock.withLock { interrupt in
            core.reset()
            interrupt = nil
            queues = []
            failed = false
        }
        trace?("reset")
    }

    /// Runs `body` on the core under the device's lock, with the interrupt handle of the
    /// current activation (nil before DRIVER_OK): for what is not input to the running
    /// device, such as a terminal resize. It does not see a failed device: host input
    /// goes through `withRunningCore`.
    public func withCore<R>(_ body: (Core, (any VirtioInterrupt)?) throws -> R) rethrows -> R {
        try lock.withLock { interrupt in try body(core, interrupt) }
    }

    /// Whether a broken ring failed the running activation: the driver was told
    /// DEVICE_NEEDS_RESET and the core hears nothing until it resets the device.
    public var needsReset: Bool { lock.withLock { _ in failed } }

    /// Hands host-side input (a tap's frames, console keystrokes, arriving on the event
    /// loop or their own thread) to the running core under the device's lock. `body`
    /// returns what it took and whether the driver should hear on queue `queue`.
    ///
    /// Returns nil, without calling `body`, before DRIVER_OK and while the device needs a
    /// reset. A broken ring met by `body` fails the device as a kick's would: the driver
    /// gets DEVICE_NEEDS_RESET and the core nothing more until the reset.
    public func withRunningCore<R>(
        interrupting queue: Int, _ body: (Core) throws(VirtqueueError) -> (R, interrupt: Bool)
    ) -> R? {
        let (interrupt, result) = lock.withLock {
            interrupt -> ((any VirtioInterrupt)?, Result<(R, interrupt: Bool), VirtqueueError>?) in
            guard let interrupt, !failed else { return (nil, nil) }
            do throws(VirtqueueError) {
                return (interrupt, .success(try body(core)))
            } catch {
                failed = true
                return (interrupt, .failure(error))
            }
        }
        switch result {
        case .success(let (value, notify)):
            if notify { interrupt?.signalUsed(queue: queue) }
            return value
        case .failure(let error):
            trace?("host input met a broken ring, device needs a reset: \(error)")
            interrupt?.signalNeedsReset()
            return nil
        case nil:
            return nil
        }
    }
}
