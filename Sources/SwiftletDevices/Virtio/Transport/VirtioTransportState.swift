/// A virtio transport's registers and its device's queue positions, as a snapshot keeps
/// them: what `VirtioTransportCore` needs to come back exactly where it was, whichever
/// transport (PCI or mmio) is in front of it.
public struct VirtioTransportState: Sendable, Equatable {
    /// One queue's registers as the driver last wrote them (section 4.1.4.3).
    public struct QueueRegisters: Sendable, Equatable {
        public var size: UInt16
        public var msixVector: UInt16
        public var enabled: Bool
        public var descriptorTable: UInt64
        public var driverArea: UInt64
        public var deviceArea: UInt64

        public init(
            size: UInt16, msixVector: UInt16, enabled: Bool, descriptorTable: UInt64, driverArea: UInt64,
            deviceArea: UInt64
        ) {
            self.size = size
            self.msixVector = msixVector
            self.enabled = enabled
            self.descriptorTable = descriptorTable
            self.driverArea = driverArea
            self.deviceArea = deviceArea
        }
    }

    public var status: UInt8
    public var deviceFeatureSelect: UInt32
    public var driverFeatureSelect: UInt32
    public var driverFeatures: UInt64
    public var configMSIXVector: UInt16
    public var configGeneration: UInt8
    public var queueSelect: UInt16
    public var queues: [QueueRegisters]
    /// ISR / InterruptStatus bits not yet read or acknowledged.
    public var interruptStatus: UInt8
    /// The device was started (DRIVER_OK) and has not failed or been reset since.
    public var live: Bool
    /// For a live device, each queue's position (nil: not enabled); empty otherwise.
    public var queuePositions: [VirtqueueState?]

    public init(
        status: UInt8, deviceFeatureSelect: UInt32, driverFeatureSelect: UInt32, driverFeatures: UInt64,
        configMSIXVector: UInt16, configGeneration: UInt8, queueSelect: UInt16, queues: [QueueRegisters],
        interruptStatus: UInt8, live: Bool, queuePositions: [VirtqueueState?]
    ) {
        self.status = status
        self.deviceFeatureSelect = deviceFeatureSelect
        self.driverFeatureSelect = driverFeatureSelect
        self.driverFeatures = driverFeatures
        self.configMSIXVector = configMSIXVector
        self.configGeneration = configGeneration
        self.queueSelect = queueSelect
        self.queues = queues
        self.interruptStatus = interruptStatus
        self.live = live
        self.queuePositions = queuePositions
    }
}
