/// Transport feature bits (virtio 1.2 section 6).
public enum VirtioFeature {
    public static let ringIndirectDescriptors = 28
    public static let ringEventIndex = 29
    public static let version1 = 32

    /// The bits the transport itself offers to every device.
    public static let transportOffered: UInt64 =
        1 << UInt64(ringIndirectDescriptors) | 1 << UInt64(ringEventIndex) | 1 << UInt64(version1)
    /// Bits 28...40 belong to the transport (packed rings, access platform, notification
    /// data, queue reset...): a device cannot offer them behind the transport's back.
    public static let transportReserved: UInt64 = (1 << 41 - 1) & ~(1 << 28 - 1)
}

/// The device status bits (virtio 1.2 section 2.1).
public enum VirtioDeviceStatus {
    public static let acknowledge: UInt8 = 1
    public static let driver: UInt8 = 2
    public static let driverOK: UInt8 = 4
    public static let featuresOK: UInt8 = 8
    public static let needsReset: UInt8 = 0x40
    public static let failed: UInt8 = 0x80
}
