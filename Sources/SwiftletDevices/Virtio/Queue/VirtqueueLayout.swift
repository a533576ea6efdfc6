import SwiftletMemory

/// Byte layout of a split virtqueue (virtio 1.2 sections 2.7.5, 2.7.6 and 2.7.8). All
/// fields are little-endian; on x86 that is the host's order too.
enum VirtqueueLayout {
    static let maxSize: UInt16 = 32768

    // struct virtq_desc { le64 addr; le32 len; le16 flags; le16 next; }
    static let descriptorSize: UInt64 = 16
    static let descriptorAlignment: UInt64 = 16

    // struct virtq_avail { le16 flags; le16 idx; le16 ring[size]; le16 used_event; }
    static let availAlignment: UInt64 = 2
    static func availBytes(size: UInt16) -> UInt64 { 6 + 2 * UInt64(size) }
    static let availFlagsOffset: UInt64 = 0
    static let availIndexOffset: UInt64 = 2
    static func availEntryOffset(_ slot: UInt16) -> UInt64 { 4 + 2 * UInt64(slot) }
    static func usedEventOffset(size: UInt16) -> UInt64 { 4 + 2 * UInt64(size) }

    // struct virtq_used { le16 flags; le16 idx; struct { le32 id; le32 len; } ring[size];
    //                     le16 avail_event; }
    static let usedAlignment: UInt64 = 4
    static func usedBytes(size: UInt16) -> UInt64 { 6 + 8 * UInt64(size) }
    static let usedFlagsOffset: UInt64 = 0
    static let usedIndexOffset: UInt64 = 2
    static func usedElementOffset(_ slot: UInt16) -> UInt64 { 4 + 8 * UInt64(slot) }
    static func availEventOffset(size: UInt16) -> UInt64 { 4 + 8 * UInt64(size) }

    /// Descriptor flags (virtio 1.2 section 2.7.5).
    static let descriptorNext: UInt16 = 1
    static let descriptorWrite: UInt16 = 2
    static let descriptorIndirect: UInt16 = 4

    /// VIRTQ_AVAIL_F_NO_INTERRUPT: the driver asks not to be interrupted (without EVENT_IDX).
    static let availNoInterrupt: UInt16 = 1
    /// VIRTQ_USED_F_NO_NOTIFY: the device asks not to be kicked (without EVENT_IDX).
    static let usedNoNotify: UInt16 = 1
}

/// One descriptor as the guest wrote it: nothing in it is trusted yet.
struct RawDescriptor {
    var address: UInt64
    var length: UInt32
    var flags: UInt16
    var next: UInt16

    /// Reads entry `index` of the table at `table`. The caller has checked that the
    /// table lies in RAM; GuestMemory checks again, so a mistake is an error, not a crash.
    static func read(
        from memory: GuestMemory, table: GuestAddress, index: UInt16
    ) throws(VirtqueueError) -> RawDescriptor {
        let entry = table.value &+ UInt64(index) &* VirtqueueLayout.descriptorSize
        do {
            let address = UInt64(littleEndian: try memory.read(UInt64.self, at: GuestAddress(entry)))
            // len, flags and next in one load: bits 0-31, 32-47 and 48-63.
            let rest = UInt64(littleEndian: try memory.read(UInt64.self, at: GuestAddress(entry &+ 8)))
            return RawDescriptor(
                address: address, length: UInt32(truncatingIfNeeded: rest),
                flags: UInt16(truncatingIfNeeded: rest >> 32), next: UInt16(truncatingIfNeeded: rest >> 48))
        } catch {
            throw .memory(error)
        }
    }

    var hasNext: Bool { flags & VirtqueueLayout.descriptorNext != 0 }
    var isWritable: Bool { flags & VirtqueueLayout.descriptorWrite != 0 }
    var isIndirect: Bool { flags & VirtqueueLayout.descriptorIndirect != 0 }
}
