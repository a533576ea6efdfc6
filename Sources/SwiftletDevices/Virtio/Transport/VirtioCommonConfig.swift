/// The registers of struct virtio_pci_common_cfg (virtio 1.2 section 4.1.4.3) and the
/// device status state machine (section 3.1), as plain state: no locks, no device calls.
/// A write returns what the caller must do outside its lock (reset or start the device).
///
/// Fields are decoded per byte, so an access of any size at any offset touches exactly the
/// fields it overlaps, as the guest asked; unknown offsets read 0 and ignore writes.
struct VirtioCommonConfig {
    struct QueueRegisters: Equatable {
        let maxSize: UInt16
        var size: UInt16
        var msixVector = VirtioPCILayout.noVector
        var enabled = false
        var descriptorTable: UInt64 = 0
        var driverArea: UInt64 = 0
        var deviceArea: UInt64 = 0

        init(maxSize: UInt16) {
            self.maxSize = maxSize
            self.size = maxSize
        }
    }

    enum Field: CaseIterable {
        case deviceFeatureSelect, deviceFeature, driverFeatureSelect, driverFeature
        case configMSIXVector, numQueues, deviceStatus, configGeneration
        case queueSelect, queueSize, queueMSIXVector, queueEnable, queueNotifyOff
        case queueDescriptor, queueDriver, queueDevice

        var range: (offset: UInt64, width: Int) {
            switch self {
            case .deviceFeatureSelect: (0x00, 4)
            case .deviceFeature: (0x04, 4)
            case .driverFeatureSelect: (0x08, 4)
            case .driverFeature: (0x0C, 4)
            case .configMSIXVector: (0x10, 2)
            case .numQueues: (0x12, 2)
            case .deviceStatus: (0x14, 1)
            case .configGeneration: (0x15, 1)
            case .queueSelect: (0x16, 2)
            case .queueSize: (0x18, 2)
            case .queueMSIXVector: (0x1A, 2)
            case .queueEnable: (0x1C, 2)
            case .queueNotifyOff: (0x1E, 2)
            case .queueDescriptor: (0x20, 8)
            case .queueDriver: (0x28, 8)
            case .queueDevice: (0x30, 8)
            }
        }

        static func at(_ offset: UInt64) -> Field? {
            allCases.first { offset >= $0.range.offset && offset - $0.range.offset < UInt64($0.range.width) }
        }
    }

    /// What the transport must do after a write, outside its lock.
    enum Action: Equatable {
        case none
        case reset
        case activate
        case fail(VirtioTransportError)
    }

    let offeredFeatures: UInt64
    let vectorCount: Int
    var deviceFeatureSelect: UInt32 = 0
    var driverFeatureSelect: UInt32 = 0
    var driverFeatures: UInt64 = 0
    var configMSIXVector = VirtioPCILayout.noVector
    var status: UInt8 = 0
    var configGeneration: UInt8 = 0
    var queueSelect: UInt16 = 0
    var queues: [QueueRegisters]

    init(offeredFeatures: UInt64, queueMaxSizes: [UInt16], vectorCount: Int) {
        self.offeredFeatures = offeredFeatures
        self.vectorCount = vectorCount
        self.queues = queueMaxSizes.map { QueueRegisters(maxSize: $0) }
    }

    /// Device reset (status 0): everything but the config generation, which only grows.
    mutating func reset() {
        self = VirtioCommonConfig(
            offeredFeatures: offeredFeatures, queueMaxSizes: queues.map(\.maxSize), vectorCount: vectorCount)
            .with(configGeneration: configGeneration)
    }

    private func with(configGeneration: UInt8) -> VirtioCommonConfig {
        var copy = self
        copy.configGeneration = configGeneration
        return copy
    }

    func has(_ bit: UInt8) -> Bool { status & bit != 0 }

    // MARK: Access

    func read(offset: UInt64, size: Int) -> UInt64 {
        var value: UInt64 = 0
        for lane in 0..<min(max(size, 0), 8) {
            let (at, overflow) = offset.addingReportingOverflow(UInt64(lane))
            guard !overflow, let field = Field.at(at) else { continue }
            let byte = (self.value(of: field) >> (8 * (at - field.range.offset))) & 0xFF
            value |= byte << UInt64(8 * lane)
        }
        return value
    }

    mutating func write(offset: UInt64, size: Int, value: UInt64) -> Action {
        var action = Action.none
        for field in Field.allCases {
            let start = field.range.offset
            let end = start + UInt64(field.range.width)
            var merged = self.value(of: field)
            var touched = false
            for lane in 0..<min(max(size, 0), 8) {
                let (at, overflow) = offset.addingReportingOverflow(UInt64(lane))
                guard !overflow, at >= start, at < end else { continue }
                let shift = 8 * (at - start)
                let byte = (value >> UInt64(8 * lane)) & 0xFF
                merged = merged & ~(0xFF << shift) | byte << shift
                touched = true
            }
            if touched {
                let result = set(field, merged)
                if result != .none { action = result }
            }
        }
        return action
    }

    private var selectedQueue: Int? {
        Int(queueSelect) < queues.count ? Int(queueSelect) : nil
    }

    private func value(of field: Field) -> UInt64 {
        let queue = selectedQueue.map { queues[$0] }
        switch field {
        case .deviceFeatureSelect: return UInt64(deviceFeatureSelect)
        case .deviceFeature:
            switch deviceFeatureSelect {
            case 0: return offeredFeatures & 0xFFFF_FFFF
            case 1: return offeredFeatures >> 32
            default: return 0
            }
        case .driverFeatureSelect: return UInt64(driverFeatureSelect)
        case .driverFeature:
            switch driverFeatureSelect {
            case 0: return driverFeatures & 0xFFFF_FFFF
            case 1: return driverFeatures >> 32
            default: return 0
            }
        case .configMSIXVector: return UInt64(configMSIXVector)
        case .numQueues: return UInt64(queues.count)
        case .deviceStatus: return UInt64(status)
        case .configGeneration: return UInt64(configGeneration)
        case .queueSelect: return UInt64(queueSelect)
        // A queue that does not exist reads size 0 (section 4.1.4.3.2).
        case .queueSize: return UInt64(queue?.size ?? 0)
        case .queueMSIXVector: return UInt64(queue?.msixVector ?? VirtioPCILayout.noVector)
        case .queueEnable: return queue?.enabled == true ? 1 : 0
        case .queueNotifyOff: return selectedQueue.map { UInt64($0) } ?? 0
        case .queueDescriptor: return queue?.descriptorTable ?? 0
        case .queueDriver: return queue?.driverArea ?? 0
        case .queueDevice: return queue?.deviceArea ?? 0
        }
    }

    /// A vector the MSI-X table has, or NO_VECTOR: what the driver reads back tells it
    /// whether the mapping took (section 4.1.5.1.2).
    private func checkedVector(_ value: UInt64) -> UInt16 {
        value < UInt64(vectorCount) ? UInt16(value) : VirtioPCILayout.noVector
    }

    private mutating func set(_ field: Field, _ value: UInt64) -> Action {
        let low32 = UInt32(truncatingIfNeeded: value)
        let low16 = UInt16(truncatingIfNeeded: value)
        switch field {
        case .deviceFeatureSelect: deviceFeatureSelect = low32
        case .driverFeatureSelect: driverFeatureSelect = low32
        case .driverFeature:
            // Features are fixed once FEATURES_OK is set (section 3.1.1).
            guard !has(VirtioDeviceStatus.featuresOK) else { break }
            switch driverFeatureSelect {
            case 0: driverFeatures = driverFeatures & ~0xFFFF_FFFF | UInt64(low32)
            case 1: driverFeatures = driverFeatures & 0xFFFF_FFFF | UInt64(low32) << 32
            default: break
            }
        case .configMSIXVector: configMSIXVector = checkedVector(value)
        case .deviceStatus: return writeStatus(UInt8(truncatingIfNeeded: value))
        case .queueSelect: queueSelect = low16
        case .queueMSIXVector:
            if let index = selectedQueue { queues[index].msixVector = checkedVector(value) }
        case .queueSize:
            if let index = writableQueue { queues[index].size = low16 }
        case .queueDescriptor:
            if let index = writableQueue { queues[index].descriptorTable = value }
        case .queueDriver:
            if let index = writableQueue { queues[index].driverArea = value }
        case .queueDevice:
            if let index = writableQueue { queues[index].deviceArea = value }
        case .queueEnable:
            // Only 1 means anything: without VIRTIO_F_RING_RESET a queue cannot be disabled.
            guard low16 == 1, let index = writableQueue else { break }
            let queue = queues[index]
            guard queue.size > 0, queue.size <= queue.maxSize, queue.size & (queue.size - 1) == 0 else {
                return .fail(.queueSizeInvalid(queue: index, size: queue.size, max: queue.maxSize))
            }
            queues[index].enabled = true
        case .deviceFeature, .numQueues, .configGeneration, .queueNotifyOff:
            break  // read-only
        }
        return .none
    }

    /// virtio-mmio's QueueReady = 0 (section 4.2.2): a queue not yet running may be taken
    /// back. Once DRIVER_OK is set the queue stays (no VIRTIO_F_RING_RESET), and the
    /// driver reading QueueReady back sees so.
    mutating func disableSelectedQueue() {
        guard let index = selectedQueue, !has(VirtioDeviceStatus.driverOK) else { return }
        queues[index].enabled = false
    }

    /// The selected queue, if its registers may still change: it exists, is not enabled,
    /// and the device is not running.
    private var writableQueue: Int? {
        guard let index = selectedQueue, !queues[index].enabled, !has(VirtioDeviceStatus.driverOK) else { return nil }
        return index
    }

    /// Section 2.1 and 3.1.1: 0 resets; otherwise bits are only ever added by the driver,
    /// DEVICE_NEEDS_RESET is the device's own, and FEATURES_OK sticks only for a feature
    /// set we can honour.
    private mutating func writeStatus(_ value: UInt8) -> Action {
        if value == 0 { return .reset }
        let old = status
        var new = old | (value & ~VirtioDeviceStatus.needsReset)
        if new & VirtioDeviceStatus.featuresOK != 0 && old & VirtioDeviceStatus.featuresOK == 0 {
            let acceptable = driverFeatures & ~offeredFeatures == 0
                && driverFeatures & (1 << UInt64(VirtioFeature.version1)) != 0
            if !acceptable { new &= ~VirtioDeviceStatus.featuresOK }
        }
        status = new
        guard new & VirtioDeviceStatus.driverOK != 0 && old & VirtioDeviceStatus.driverOK == 0 else { return .none }
        guard new & VirtioDeviceStatus.featuresOK != 0 else { return .fail(.driverOKWithoutFeaturesOK) }
        guard new & VirtioDeviceStatus.needsReset == 0 else { return .none }
        return .activate
    }
}
