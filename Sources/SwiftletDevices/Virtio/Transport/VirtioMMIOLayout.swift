/// The virtio-mmio register file, version 2 (virtio 1.2 section 4.2.2): offsets from the
/// start of a device's window.
public enum VirtioMMIOLayout {
    /// "virt" in little-endian bytes.
    public static let magic: UInt32 = 0x7472_6976
    /// The modern (non-legacy) register layout; version 1 (legacy) is not offered.
    public static let version: UInt32 = 2
    /// "SWLT" in little-endian bytes: Swiftlet's own. Nothing matches on it (Linux's
    /// virtio drivers take any vendor, the spec leaves it to the device), and a guest's
    /// log then names who made the device rather than borrowing QEMU's "QEMU".
    public static let vendorID: UInt32 = 0x544C_5753

    /// Bytes of one device's window: the registers end at 0x100 and the device-specific
    /// configuration follows; Linux and the `virtio_mmio.device=` convention use 0x200.
    public static let windowSize: UInt64 = 0x200

    public static let magicValue: UInt64 = 0x000
    public static let versionRegister: UInt64 = 0x004
    public static let deviceID: UInt64 = 0x008
    public static let vendorIDRegister: UInt64 = 0x00C
    public static let deviceFeatures: UInt64 = 0x010
    public static let deviceFeaturesSel: UInt64 = 0x014
    public static let driverFeatures: UInt64 = 0x020
    public static let driverFeaturesSel: UInt64 = 0x024
    public static let queueSel: UInt64 = 0x030
    public static let queueNumMax: UInt64 = 0x034
    public static let queueNum: UInt64 = 0x038
    public static let queueReady: UInt64 = 0x044
    /// Writing a queue's index here kicks it: the machine's ioeventfds match on the value.
    public static let queueNotify: UInt64 = 0x050
    public static let interruptStatus: UInt64 = 0x060
    public static let interruptACK: UInt64 = 0x064
    public static let status: UInt64 = 0x070
    public static let queueDescLow: UInt64 = 0x080
    public static let queueDescHigh: UInt64 = 0x084
    public static let queueDriverLow: UInt64 = 0x090
    public static let queueDriverHigh: UInt64 = 0x094
    public static let queueDeviceLow: UInt64 = 0x0A0
    public static let queueDeviceHigh: UInt64 = 0x0A4
    public static let shmSel: UInt64 = 0x0AC
    public static let shmLenLow: UInt64 = 0x0B0
    public static let shmLenHigh: UInt64 = 0x0B4
    public static let shmBaseLow: UInt64 = 0x0B8
    public static let shmBaseHigh: UInt64 = 0x0BC
    public static let queueReset: UInt64 = 0x0C0
    public static let configGeneration: UInt64 = 0x0FC
    /// The device-specific configuration starts here.
    public static let config: UInt64 = 0x100

    /// InterruptStatus bits (section 4.2.2).
    public static let usedBufferInterrupt: UInt8 = 1
    public static let configChangeInterrupt: UInt8 = 2
}
