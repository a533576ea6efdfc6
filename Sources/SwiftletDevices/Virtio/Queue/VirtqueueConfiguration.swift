import SwiftletMemory

/// Where a split virtqueue lives and what was negotiated for it: what the transport
/// collects from the driver (virtio 1.2 section 4.1.4.3, queue_desc/queue_driver/
/// queue_device) before it sets queue_enable.
public struct VirtqueueConfiguration: Sendable, Equatable {
    /// Number of descriptors: a power of two, at most 32768 (virtio 1.2 section 2.7).
    public var size: UInt16
    /// The descriptor table, 16 * size bytes, 16-byte aligned.
    public var descriptorTable: GuestAddress
    /// The driver area (available ring), 6 + 2 * size bytes, 2-byte aligned.
    public var availRing: GuestAddress
    /// The device area (used ring), 6 + 8 * size bytes, 4-byte aligned.
    public var usedRing: GuestAddress
    /// VIRTIO_F_EVENT_IDX (bit 29) was negotiated: used_event/avail_event suppress
    /// notifications instead of the flags (virtio 1.2 section 2.7.10).
    public var eventIndex: Bool
    /// VIRTIO_F_INDIRECT_DESC (bit 28) was negotiated (virtio 1.2 section 2.7.5.3).
    public var indirectDescriptors: Bool
    /// The most bytes (readable plus writable) one chain may describe. The used ring's
    /// length field is 32 bits, so the default is the largest length it can report.
    public var maxChainBytes: UInt64

    public init(
        size: UInt16, descriptorTable: GuestAddress, availRing: GuestAddress, usedRing: GuestAddress,
        eventIndex: Bool = false, indirectDescriptors: Bool = false,
        maxChainBytes: UInt64 = UInt64(UInt32.max)
    ) {
        self.size = size
        self.descriptorTable = descriptorTable
        self.availRing = availRing
        self.usedRing = usedRing
        self.eventIndex = eventIndex
        self.indirectDescriptors = indirectDescriptors
        self.maxChainBytes = maxChainBytes
    }
}
