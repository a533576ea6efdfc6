/// Swiftlet's virtio PCI layout (the "Virtio over PCI" contract; virtio 1.2 section 4.1):
/// everything in BAR0, a 64-bit memory BAR of 0x8000 bytes.
public enum VirtioPCILayout {
    public static let bar = 0
    public static let barSize: UInt64 = 0x8000

    public static let commonOffset: UInt64 = 0x0000
    public static let isrOffset: UInt64 = 0x1000
    public static let deviceOffset: UInt64 = 0x2000
    public static let notifyOffset: UInt64 = 0x3000
    public static let msixTableOffset: UInt64 = 0x4000
    public static let msixPBAOffset: UInt64 = 0x5000
    /// Every region spans 4 KiB of the BAR.
    public static let regionSize: UInt64 = 0x1000

    /// Queue n's notify register is at notifyOffset + n * notifyOffMultiplier.
    public static let notifyOffMultiplier: UInt32 = 4

    /// The BAR0 offset of queue `queue`'s notify register: add the BAR's address for the
    /// guest-physical address of a KVM ioeventfd.
    public static func notifyAddressOffset(queue: Int) -> UInt64 {
        notifyOffset + UInt64(queue) * UInt64(notifyOffMultiplier)
    }

    /// PCI identity (virtio 1.2 section 4.1.2).
    public static let vendorID: UInt16 = 0x1AF4
    public static let deviceIDBase: UInt16 = 0x1040
    public static let revision: UInt8 = 1
    public static let subsystemVendorID: UInt16 = 0x1AF4
    public static let subsystemID: UInt16 = 0x0040

    /// virtio_pci_cap cfg_type values (virtio 1.2 section 4.1.4).
    public static let capabilityVendor: UInt8 = 0x09
    public static let commonCfg: UInt8 = 1
    public static let notifyCfg: UInt8 = 2
    public static let isrCfg: UInt8 = 3
    public static let deviceCfg: UInt8 = 4
    public static let pciCfg: UInt8 = 5

    /// NO_VECTOR in config_msix_vector / queue_msix_vector.
    public static let noVector: UInt16 = 0xFFFF

    /// A PCI class code for the device type, as QEMU uses (Linux ignores it for virtio).
    static func classCode(deviceType: UInt16) -> UInt32 {
        switch deviceType {
        case 1: 0x02_00_00  // network controller
        case 2: 0x01_00_00  // mass storage (SCSI)
        case 3: 0x07_80_00  // simple communication, other
        default: 0x00_FF_00  // unclassified
        }
    }
}
