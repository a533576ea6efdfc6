import Synchronization
import SwiftletMemory

/// The device side of one split virtqueue (virtio 1.2 section 2.7): Swiftlet's one ring
/// engine, shared by every virtio device.
///
/// The driver owns the rings and may scribble on them at any moment from another vCPU, so
/// the queue keeps its own copy of every index that matters (the next available entry to
/// consume, the next used slot to fill) and reads each guest value exactly once before
/// checking it.
///
/// Threading: a `Virtqueue` belongs to one device I/O thread at a time and takes no locks.
/// It is `@unchecked Sendable` only so it can be handed to that thread; whoever hands it
/// over must stop touching it (a thread start or join orders the hand-over). The guest
/// driver runs concurrently on other CPUs: the fences below order our accesses to the
/// shared rings against it, as the spec's memory-barrier rules require.
public final class Virtqueue: @unchecked Sendable {
    public let memory: GuestMemory
    public let configuration: VirtqueueConfiguration

    /// The avail ring index of the next chain to pop (the driver's idx runs ahead of it).
    public private(set) var nextAvailIndex: UInt16
    /// The used ring index we publish next.
    public private(set) var nextUsedIndex: UInt16
    /// The driver's avail idx as last read: chains up to here need no new read or fence.
    private var cachedAvailIndex: UInt16
    /// The used idx when we last decided about a notification (EVENT_IDX's "old").
    var signalledUsedIndex: UInt16
    /// Whether the device wants kicks (see `disableNotifications()`).
    public internal(set) var notificationsEnabled = true
    /// Whether the last service pass stopped on its budget with chains still available:
    /// the device must come back to this queue without waiting for a kick.
    public internal(set) var serviceUnfinished = false

    private let walker: DescriptorChainWalker

    /// Checks `configuration` against guest RAM. `nextAvailIndex`/`nextUsedIndex` are 0
    /// for a freshly enabled queue; other values restore a queue already in use.
    public init(
        memory: GuestMemory, configuration: VirtqueueConfiguration,
        nextAvailIndex: UInt16 = 0, nextUsedIndex: UInt16 = 0
    ) throws(VirtqueueError) {
        let size = configuration.size
        // The transport validates this too; a queue must never depend on that.
        guard size > 0, size <= VirtqueueLayout.maxSize, size & (size &- 1) == 0 else {
            throw .invalidQueueSize(size)
        }
        try Self.check(
            .descriptorTable, configuration.descriptorTable, count: VirtqueueLayout.descriptorSize * UInt64(size),
            alignment: VirtqueueLayout.descriptorAlignment, in: memory)
        try Self.check(
            .availRing, configuration.availRing, count: VirtqueueLayout.availBytes(size: size),
            alignment: VirtqueueLayout.availAlignment, in: memory)
        try Self.check(
            .usedRing, configuration.usedRing, count: VirtqueueLayout.usedBytes(size: size),
            alignment: VirtqueueLayout.usedAlignment, in: memory)
        self.memory = memory
        self.configuration = configuration
        self.nextAvailIndex = nextAvailIndex
        self.cachedAvailIndex = nextAvailIndex
        self.nextUsedIndex = nextUsedIndex
        self.signalledUsedIndex = nextUsedIndex
        self.walker = DescriptorChainWalker(memory: memory, configuration: configuration)
    }

    private static func check(
        _ area: VirtqueueError.Area, _ address: GuestAddress, count: UInt64, alignment: UInt64,
        in memory: GuestMemory
    ) throws(VirtqueueError) {
        guard address.value % alignment == 0 else { throw .areaMisaligned(area, address, alignment: alignment) }
        guard memory.contains(address, count: count) else { throw .areaOutsideRAM(area, address, count: count) }
    }

    public var size: UInt16 { configuration.size }

    // MARK: The available ring

    /// How many chains the driver has published that we have not popped.
    public func availableCount() throws(VirtqueueError) -> UInt16 {
        try refreshAvailIndex()
        return cachedAvailIndex &- nextAvailIndex
    }

    /// The next chain the driver made available, validated, or nil if there is none.
    ///
    /// A chain that fails validation is still consumed (the avail index moves past it), so
    /// a device may choose to carry on; the error says which rule the driver broke.
    public func popChain() throws(VirtqueueError) -> DescriptorChain? {
        if nextAvailIndex == cachedAvailIndex {
            try refreshAvailIndex()
            if nextAvailIndex == cachedAvailIndex { return nil }
        }
        let slot = nextAvailIndex & (size &- 1)
        let head = try readU16(configuration.availRing, VirtqueueLayout.availEntryOffset(slot))
        nextAvailIndex &+= 1
        if configuration.eventIndex && notificationsEnabled {
            // Ask to be kicked when the driver publishes the entry after this one.
            try writeAvailEvent()
        }
        guard head < size else { throw .descriptorIndexOutOfRange(index: head, size: size) }
        return try walker.walk(head: head)
    }

    /// Reads the driver's avail idx, then fences so no ring entry or descriptor read can
    /// be satisfied before it (virtio 1.2 section 2.7.13.3: the driver writes the entries,
    /// a barrier, then idx; our acquire pairs with its barrier).
    private func refreshAvailIndex() throws(VirtqueueError) {
        let availIndex = try readU16(configuration.availRing, VirtqueueLayout.availIndexOffset)
        atomicMemoryFence(ordering: .acquiring)
        // Index arithmetic is mod 2^16. More than `size` outstanding entries cannot be
        // real: the driver has only `size` descriptors to put in them.
        let pending = availIndex &- nextAvailIndex
        guard pending <= size else {
            throw .availIndexJump(availIndex: availIndex, lastSeen: nextAvailIndex, size: size)
        }
        cachedAvailIndex = availIndex
    }

    // MARK: The used ring

    /// Returns chain `head` to the driver with `writtenLength` bytes written into its
    /// writable buffers: the element first, then (after a release fence) the used idx,
    /// so the driver never sees an index that covers an unwritten element (2.7.8.2).
    public func addUsed(head: UInt16, writtenLength: UInt32) throws(VirtqueueError) {
        guard head < size else { throw .usedHeadOutOfRange(head: head, size: size) }
        let slot = nextUsedIndex & (size &- 1)
        let element = VirtqueueLayout.usedElementOffset(slot)
        try writeU32(UInt32(head), configuration.usedRing, element)
        try writeU32(writtenLength, configuration.usedRing, element + 4)
        nextUsedIndex &+= 1
        atomicMemoryFence(ordering: .releasing)
        try writeU16(nextUsedIndex, configuration.usedRing, VirtqueueLayout.usedIndexOffset)
    }

    /// `addUsed(head:writtenLength:)` for a popped chain.
    public func addUsed(_ chain: DescriptorChain, writtenLength: UInt32) throws(VirtqueueError) {
        try addUsed(head: chain.head, writtenLength: writtenLength)
    }

    // MARK: Guest ring access

    func readU16(_ area: GuestAddress, _ offset: UInt64) throws(VirtqueueError) -> UInt16 {
        do {
            return UInt16(littleEndian: try memory.read(UInt16.self, at: GuestAddress(area.value &+ offset)))
        } catch {
            throw .memory(error)
        }
    }

    func writeU16(_ value: UInt16, _ area: GuestAddress, _ offset: UInt64) throws(VirtqueueError) {
        do {
            try memory.write(value.littleEndian, at: GuestAddress(area.value &+ offset))
        } catch {
            throw .memory(error)
        }
    }

    func writeU32(_ value: UInt32, _ area: GuestAddress, _ offset: UInt64) throws(VirtqueueError) {
        do {
            try memory.write(value.littleEndian, at: GuestAddress(area.value &+ offset))
        } catch {
            throw .memory(error)
        }
    }
}
