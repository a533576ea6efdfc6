/// Why a virtio device (on PCI or MMIO) could not be built, or why it set DEVICE_NEEDS_RESET.
public enum VirtioTransportError: Error, Equatable, Sendable, CustomStringConvertible {
    // Building (machine-builder mistakes).
    case tooManyQueues(Int)
    case queueMaxSizeInvalid(queue: Int, size: UInt16)
    case configuration(PCIConfigurationError)

    // The driver's mistakes: each makes the device set DEVICE_NEEDS_RESET.
    case queueSizeInvalid(queue: Int, size: UInt16, max: UInt16)
    case queue(Int, VirtqueueError)
    case driverOKWithoutFeaturesOK
    case activationFailed(String)
    case deviceError

    // A snapshot that does not fit this device.
    case stateMismatch(String)

    public var description: String {
        switch self {
        case .tooManyQueues(let count):
            return "virtio device with \(count) queues: more than its transport addresses (255 on PCI, for MSI-X)"
        case .queueMaxSizeInvalid(let queue, let size):
            return "virtio queue \(queue) maximum size \(size) is not a power of two in 1...32768"
        case .configuration(let error):
            return "virtio PCI configuration space: \(error)"
        case .queueSizeInvalid(let queue, let size, let max):
            return "virtio queue \(queue): driver chose size \(size), not a power of two in 1...\(max)"
        case .queue(let queue, let error):
            return "virtio queue \(queue): \(error)"
        case .driverOKWithoutFeaturesOK:
            return "virtio driver set DRIVER_OK before FEATURES_OK was accepted"
        case .activationFailed(let reason):
            return "virtio device failed to start: \(reason)"
        case .deviceError:
            return "virtio device reported an unrecoverable error"
        case .stateMismatch(let detail):
            return "virtio snapshot state does not fit this device: \(detail)"
        }
    }
}
