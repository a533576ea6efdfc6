/// A virtio console (virtio 1.2 section 5.3) with one port and no MULTIPORT: queue 0
/// (receiveq) carries host input to the guest, queue 1 (transmitq) guest output to us.
///
/// Input is pushed by the event loop with `receive`; what does not fit stays with the
/// caller, who offers it again once `process(queue: 0)` reports that the driver added
/// receive buffers (`hasReceiveBuffers`, or the `inputSpace` callback).
///
/// Threading: serves one event-loop thread, like `Virtqueue`; `@unchecked Sendable` only
/// so it can be handed to that thread.
public final class VirtioConsole: VirtioDeviceCore, @unchecked Sendable {
    public static let deviceID: UInt16 = 3
    public static let queueSize: UInt16 = 256
    public static let receiveQueue = 0
    public static let transmitQueue = 1

    /// Feature bits (5.3.3).
    public static let featureSize: UInt64 = 1 << 0
    public static let featureEmergencyWrite: UInt64 = 1 << 2

    /// struct virtio_console_config (5.3.4): le16 cols, le16 rows, le32 max_nr_ports,
    /// le32 emerg_wr.
    enum Config {
        static let columns = 0
        static let rows = 2
        static let emergencyWrite = 8
        static let size = 12
    }

    /// Guest output is handed over in pieces of at most this many bytes, so one huge
    /// buffer never becomes one huge host allocation.
    static let outputChunk = 64 * 1024

    private let output: @Sendable ([UInt8]) -> Void
    private let inputSpace: (@Sendable () -> Void)?
    private let offersSize: Bool
    private var config = VirtioConfigSpace(size: Config.size)
    private var receiveq: Virtqueue?
    private var transmitq: Virtqueue?
    private var negotiated: UInt64 = 0

    /// Whether the driver has receive buffers waiting, as of the last `receive` or
    /// `process(queue: 0)`: while false, `receive` would accept nothing.
    public private(set) var hasReceiveBuffers = false

    /// - Parameters:
    ///   - size: the terminal size to report (offers VIRTIO_CONSOLE_F_SIZE), if known.
    ///   - output: receives every byte the guest writes, in order.
    ///   - inputSpace: called at the end of `process(queue: 0)` when receive buffers are
    ///     waiting, so the caller can offer input it holds. It must not call `receive`
    ///     itself: the event loop should do that once `process` has returned.
    public init(
        size: (columns: UInt16, rows: UInt16)? = nil,
        output: @escaping @Sendable ([UInt8]) -> Void,
        inputSpace: (@Sendable () -> Void)? = nil
    ) {
        self.output = output
        self.inputSpace = inputSpace
        self.offersSize = size != nil
        if let size {
            config.set(size.columns, at: Config.columns)
            config.set(size.rows, at: Config.rows)
        }
    }

    /// Records a new terminal size. Returns true when the driver should get a
    /// configuration-change interrupt (it negotiated VIRTIO_CONSOLE_F_SIZE).
    public func resize(columns: UInt16, rows: UInt16) -> Bool {
        guard offersSize else { return false }
        config.set(columns, at: Config.columns)
        config.set(rows, at: Config.rows)
        return negotiated & Self.featureSize != 0
    }

    // MARK: VirtioDeviceCore

    public var deviceID: UInt16 { Self.deviceID }
    public var queueMaxSizes: [UInt16] { [Self.queueSize, Self.queueSize] }
    public var deviceFeatures: UInt64 { Self.featureEmergencyWrite | (offersSize ? Self.featureSize : 0) }

    public func configRead(offset: Int, size: Int) -> UInt64 { config.read(offset: offset, size: size) }

    /// emerg_wr is the one writable field: one character of output, usable even before
    /// the queues are (5.3.4: available whenever EMERG_WRITE is offered).
    public func configWrite(offset: Int, size: Int, value: UInt64) {
        guard offset == Config.emergencyWrite, size >= 1 else { return }
        output([UInt8(truncatingIfNeeded: value)])
    }

    public func activate(features: UInt64, queues: [Virtqueue]) throws(VirtioDeviceError) {
        guard queues.count == 2 else { throw .queueCount(device: "console", expected: 2, got: queues.count) }
        negotiated = features & deviceFeatures
        receiveq = queues[Self.receiveQueue]
        transmitq = queues[Self.transmitQueue]
        // Buffers the driver added before DRIVER_OK brought no kick we would act on.
        hasReceiveBuffers = ((try? queues[Self.receiveQueue].availableCount()) ?? 0) > 0
    }

    public func reset() {
        receiveq = nil
        transmitq = nil
        negotiated = 0
        hasReceiveBuffers = false
    }

    public func process(queue index: Int) throws(VirtqueueError) -> Bool {
        switch index {
        case Self.receiveQueue:
            // New receive buffers: nothing to do until there is input.
            guard let receiveq else { return false }
            hasReceiveBuffers = try receiveq.availableCount() > 0
            if hasReceiveBuffers { inputSpace?() }
            return false
        case Self.transmitQueue:
            guard let transmitq else { return false }
            return try transmitq.serviceAvailable { (chain) throws(VirtqueueError) in
                var reader = ChainReader(memory: transmitq.memory, chain: chain)
                while reader.remaining > 0 {
                    output(try reader.readBytes(count: min(reader.remaining, Self.outputChunk)))
                }
                return 0  // we write nothing into a transmit buffer
            }
        default:
            return false
        }
    }

    // MARK: Input

    /// Copies as much of `bytes` as the driver's receive buffers hold, one buffer chain
    /// per piece, and returns how many leading bytes were accepted and whether the driver
    /// should be interrupted. The caller keeps the rest. Work is bounded by the input
    /// and the queue size. Throws only for a broken ring.
    public func receive(_ bytes: [UInt8]) throws(VirtqueueError) -> (accepted: Int, needsInterrupt: Bool) {
        guard let receiveq, !bytes.isEmpty else { return (0, false) }
        var accepted = 0
        // A chain with no writable room goes back empty; there can be at most a queue's
        // worth outstanding, so this bounds the loop even against a hostile driver.
        var chainsLeft = Int(receiveq.size)
        while accepted < bytes.count, chainsLeft > 0, let chain = try receiveq.popChain() {
            chainsLeft -= 1
            var writer = ChainWriter(memory: receiveq.memory, chain: chain)
            let count = min(writer.remaining, bytes.count - accepted)
            if count > 0 { try writer.write(bytes: Array(bytes[accepted..<(accepted + count)])) }
            accepted += count
            try receiveq.addUsed(chain, writtenLength: writer.usedLength)
        }
        hasReceiveBuffers = try receiveq.availableCount() > 0
        return (accepted, try receiveq.needsNotification())
    }
}
