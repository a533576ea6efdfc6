/// The device-type half of a virtio device (virtio 1.2 chapter 5), with no PCI in it and
/// no threads: the transport owns feature negotiation, the common configuration, the
/// rings' set-up and interrupts, and `TransportedDevice` calls in one call at a time.
///
/// Glue, in full:
///
///     // device status became DRIVER_OK
///     try device.activate(features: negotiated, queues: enabledQueues)
///     // the driver wrote queue n's notify register
///     do { if try device.process(queue: n) { interrupt(queue: n) } }
///     catch { status |= DEVICE_NEEDS_RESET; configInterrupt() }   // a broken ring
///     // device status written 0
///     device.reset()
public protocol VirtioDeviceCore: AnyObject {
    /// The virtio device id (virtio 1.2 section 5): 2 block, 3 console, 4 entropy. The
    /// PCI device id is 0x1040 plus this.
    var deviceID: UInt16 { get }
    /// Largest size the device accepts for each of its queues; the count is its number of
    /// queues (queue_num_max in the common configuration).
    var queueMaxSizes: [UInt16] { get }
    /// Device-specific feature bits offered (bits 0-23); the transport adds the
    /// reserved bits such as VERSION_1, INDIRECT_DESC and EVENT_IDX.
    var deviceFeatures: UInt64 { get }

    /// `size` (1, 2, 4 or 8) bytes of the device configuration at `offset`, little-endian;
    /// bytes past the end read as 0.
    func configRead(offset: Int, size: Int) -> UInt64
    /// A driver write to the device configuration; fields that are not writable ignore it.
    func configWrite(offset: Int, size: Int, value: UInt64)

    /// Starts the device with the negotiated features (all 64 bits; the device keeps the
    /// ones it knows) and its queues in queue-index order.
    func activate(features: UInt64, queues: [Virtqueue]) throws(VirtioDeviceError)
    /// Drops the queues and per-driver state (device status written 0); the backend stays.
    func reset()
    /// Serves queue `index` after a notification. Returns true when the driver should be
    /// interrupted. Throws only for a broken ring, after which the device needs a reset.
    func process(queue index: Int) throws(VirtqueueError) -> Bool
}

/// What `activate` refuses: a transport that set up the wrong queues.
public enum VirtioDeviceError: Error, Equatable, Sendable, CustomStringConvertible {
    case queueCount(device: String, expected: Int, got: Int)

    public var description: String {
        switch self {
        case .queueCount(let device, let expected, let got):
            return "virtio \(device): expected \(expected) queues, got \(got)"
        }
    }
}
