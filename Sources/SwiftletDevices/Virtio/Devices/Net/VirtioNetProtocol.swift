/// The numbers of virtio-net (virtio 1.2 section 5.1) that Swiftlet uses.
public enum VirtioNetProtocol {
    public static let receiveQueue = 0
    public static let transmitQueue = 1

    // Feature bits (5.1.3).
    /// The device handles packets with partial checksums (the guest may send them).
    public static let featureChecksum: UInt64 = 1 << 0
    /// The driver handles packets with partial checksums (we may deliver them).
    public static let featureGuestChecksum: UInt64 = 1 << 1
    public static let featureMAC: UInt64 = 1 << 5
    public static let featureGuestTSO4: UInt64 = 1 << 7
    public static let featureGuestTSO6: UInt64 = 1 << 8
    public static let featureHostTSO4: UInt64 = 1 << 11
    public static let featureHostTSO6: UInt64 = 1 << 12
    public static let featureMergeableRxBuffers: UInt64 = 1 << 15
    public static let featureStatus: UInt64 = 1 << 16

    /// struct virtio_net_hdr with num_buffers: 12 bytes whenever VERSION_1 is negotiated
    /// (5.1.6), which our transport requires. The tap is told the same size, so the header
    /// passes between guest and tap untouched except for num_buffers.
    public static let headerSize = 12
    /// Offset of num_buffers (le16) in the header.
    public static let numBuffersOffset = 10

    /// The device configuration (5.1.4): mac[6], then status (le16).
    public enum Config {
        public static let mac = 0
        public static let status = 6
        public static let size = 8
        public static let linkUp: UInt16 = 1
    }

    /// The largest frame a tap hands us: a 64 KiB GSO packet, its Ethernet header and
    /// a VLAN tag, after the virtio header.
    public static let maxPacketSize = headerSize + 65535 + 14 + 4
}

/// The checksum and segmentation work the guest's driver accepted, which the tap may
/// therefore leave undone in what it delivers (TUNSETOFFLOAD).
public struct VirtioNetOffloads: Equatable, Sendable {
    public var checksum: Bool
    public var tso4: Bool
    public var tso6: Bool

    public init(checksum: Bool = false, tso4: Bool = false, tso6: Bool = false) {
        self.checksum = checksum
        self.tso4 = tso4
        self.tso6 = tso6
    }

    /// What the driver accepted: GUEST_CSUM, and GUEST_TSO4/6 (which need it, 5.1.3.1).
    public init(negotiated features: UInt64) {
        typealias P = VirtioNetProtocol
        let checksum = features & P.featureGuestChecksum != 0
        self.init(
            checksum: checksum,
            tso4: checksum && features & P.featureGuestTSO4 != 0,
            tso6: checksum && features & P.featureGuestTSO6 != 0)
    }
}

/// Where a virtio-net device's packets go and come from: a tap in swiftlet, a socket in
/// tests. Every packet starts with the 12-byte virtio-net header. Called only from the
/// device's thread.
public protocol VirtioNetBackend: AnyObject {
    /// Reads one packet into `buffer`; its length, or nil when none is waiting (or the
    /// read failed: the device then waits to hear from the backend again).
    func receive(into buffer: UnsafeMutableRawBufferPointer) -> Int?
    /// Sends the packet made of `buffers` (guest memory, header first); false if the host
    /// refused it, which drops it as a full wire would.
    func send(_ buffers: [UnsafeMutableRawBufferPointer]) -> Bool
    /// Whether the device wants to hear that packets are waiting (call
    /// `VirtioNet.backendReadable()`). Off while the guest has no receive buffers, so a
    /// backend with packets waiting is not read, nor polled, until the guest gives some.
    func setReceiving(_ wanted: Bool)
    /// What the tap may leave to the guest, set at each activation.
    func setOffloads(_ offloads: VirtioNetOffloads)
}
