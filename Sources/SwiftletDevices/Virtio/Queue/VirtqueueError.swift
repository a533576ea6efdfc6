import SwiftletMemory

/// Every way a virtqueue can be wrong. Almost all of them are the guest's doing: a driver
/// may write anything into its rings, so each case is a checked refusal, never a crash.
/// A device that meets one should treat the queue as broken (virtio 1.2 section 2.1.2:
/// set DEVICE_NEEDS_RESET) rather than guess what the driver meant.
public enum VirtqueueError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Which of the three areas of a split virtqueue (virtio 1.2 section 2.7).
    public enum Area: String, Sendable {
        case descriptorTable = "descriptor table"
        case availRing = "driver (available) ring"
        case usedRing = "device (used) ring"
    }

    // Set-up (transport or device configuration).
    case invalidQueueSize(UInt16)
    case areaMisaligned(Area, GuestAddress, alignment: UInt64)
    case areaOutsideRAM(Area, GuestAddress, count: UInt64)

    // The available ring.
    case availIndexJump(availIndex: UInt16, lastSeen: UInt16, size: UInt16)

    // Walking a descriptor chain.
    case descriptorIndexOutOfRange(index: UInt16, size: UInt16)
    case chainLoop(head: UInt16)
    case readableAfterWritable(head: UInt16)
    case bufferWraps(GuestAddress, length: UInt32)
    case bufferOutsideRAM(GuestAddress, length: UInt32)
    case chainTooLong(head: UInt16, limit: UInt64)

    // Indirect descriptor tables (virtio 1.2 section 2.7.5.3).
    case indirectNotNegotiated(head: UInt16)
    case indirectWithNext(head: UInt16)
    case indirectTableLength(length: UInt32)
    case indirectTableTooLarge(entries: UInt32)
    case indirectTableOutsideRAM(GuestAddress, length: UInt32)
    case nestedIndirect(head: UInt16)
    case indirectIndexOutOfRange(index: UInt16, entries: UInt32)
    case indirectLoop(head: UInt16)

    // The device's own side.
    case usedHeadOutOfRange(head: UInt16, size: UInt16)
    case readPastEnd(requested: Int, remaining: Int)
    case writePastEnd(requested: Int, remaining: Int)
    case transferCountInvalid(returned: Int, offered: Int)

    /// A ring access failed even though the rings were checked at creation.
    case memory(GuestMemoryError)

    public var description: String {
        switch self {
        case .invalidQueueSize(let size):
            return "virtqueue size \(size) is not a power of two between 1 and 32768"
        case .areaMisaligned(let area, let address, let alignment):
            return "virtqueue \(area.rawValue) at \(address) is not \(alignment)-byte aligned"
        case .areaOutsideRAM(let area, let address, let count):
            return "virtqueue \(area.rawValue) at \(address)+0x\(String(count, radix: 16)) is outside guest RAM"
        case .availIndexJump(let availIndex, let lastSeen, let size):
            return "virtqueue avail index \(availIndex) is more than the queue size \(size) ahead of \(lastSeen)"
        case .descriptorIndexOutOfRange(let index, let size):
            return "virtqueue descriptor index \(index) is past the queue size \(size)"
        case .chainLoop(let head):
            return "virtqueue chain at head \(head) is longer than the queue (a loop)"
        case .readableAfterWritable(let head):
            return "virtqueue chain at head \(head) has a device-readable buffer after a writable one"
        case .bufferWraps(let address, let length):
            return "virtqueue buffer \(address)+0x\(String(length, radix: 16)) wraps past 2^64"
        case .bufferOutsideRAM(let address, let length):
            return "virtqueue buffer \(address)+0x\(String(length, radix: 16)) is outside guest RAM"
        case .chainTooLong(let head, let limit):
            return "virtqueue chain at head \(head) holds more than \(limit) bytes"
        case .indirectNotNegotiated(let head):
            return "virtqueue chain at head \(head) uses an indirect table but INDIRECT_DESC was not negotiated"
        case .indirectWithNext(let head):
            return "virtqueue chain at head \(head) has a descriptor with both INDIRECT and NEXT"
        case .indirectTableLength(let length):
            return "virtqueue indirect table length \(length) is not a non-zero multiple of 16"
        case .indirectTableTooLarge(let entries):
            return "virtqueue indirect table of \(entries) entries is larger than 32768"
        case .indirectTableOutsideRAM(let address, let length):
            return "virtqueue indirect table \(address)+0x\(String(length, radix: 16)) is outside guest RAM"
        case .nestedIndirect(let head):
            return "virtqueue chain at head \(head) has an indirect descriptor inside an indirect table"
        case .indirectIndexOutOfRange(let index, let entries):
            return "virtqueue indirect descriptor index \(index) is past the table's \(entries) entries"
        case .indirectLoop(let head):
            return "virtqueue indirect table of chain at head \(head) is longer than itself (a loop)"
        case .usedHeadOutOfRange(let head, let size):
            return "virtqueue used head \(head) is past the queue size \(size)"
        case .readPastEnd(let requested, let remaining):
            return "virtqueue chain: reading \(requested) bytes with only \(remaining) readable left"
        case .writePastEnd(let requested, let remaining):
            return "virtqueue chain: writing \(requested) bytes with only \(remaining) writable left"
        case .transferCountInvalid(let returned, let offered):
            return "virtqueue chain: I/O reported \(returned) bytes moved of \(offered) offered"
        case .memory(let error):
            return "virtqueue ring access failed: \(error)"
        }
    }
}
