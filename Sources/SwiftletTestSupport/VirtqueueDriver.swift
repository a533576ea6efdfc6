import SwiftletDevices
import SwiftletMemory

/// The DRIVER side of a split virtqueue, written plainly against the spec's byte layout
/// (virtio 1.2 section 2.7) for unit tests, fuzzing and benchmarks: the role Linux's
/// virtio_ring.c plays for a real device, and rust-vmm virtio-queue's mock.rs for theirs.
///
/// It deliberately shares no layout code with `Virtqueue`, so a mistake in one shows up
/// as a disagreement. Besides well-behaved chains it can write any raw descriptor or index,
/// which is how tests play a hostile guest.
public final class VirtqueueDriver {
    public static let flagNext: UInt16 = 1
    public static let flagWrite: UInt16 = 2
    public static let flagIndirect: UInt16 = 4

    public let memory: GuestMemory
    /// What the device side should be configured with.
    public let configuration: VirtqueueConfiguration
    /// The avail idx including chains added but not yet published.
    public private(set) var availIndex: UInt16
    /// The avail idx the device can see.
    public private(set) var publishedAvailIndex: UInt16
    /// The next used ring entry to consume.
    public private(set) var lastUsedIndex: UInt16

    private var freeDescriptors: [UInt16]
    private var chainDescriptors: [UInt16: [UInt16]] = [:]

    /// A queue at explicit addresses; the rings are zeroed and both idx fields set to
    /// `startIndex` (non-zero to test index wrap-around without 65536 round trips).
    public init(memory: GuestMemory, configuration: VirtqueueConfiguration, startIndex: UInt16 = 0) throws {
        self.memory = memory
        self.configuration = configuration
        self.availIndex = startIndex
        self.publishedAvailIndex = startIndex
        self.lastUsedIndex = startIndex
        let size = configuration.size
        self.freeDescriptors = (0..<size).reversed()
        try memory.fill(0, at: configuration.descriptorTable, count: 16 * UInt64(size))
        try memory.fill(0, at: configuration.availRing, count: 6 + 2 * UInt64(size))
        try memory.fill(0, at: configuration.usedRing, count: 6 + 8 * UInt64(size))
        try memory.write(startIndex.littleEndian, at: avail(2))
        try memory.write(startIndex.littleEndian, at: used(2))
    }

    /// A queue laid out contiguously from `base`: descriptor table, avail ring, used ring.
    public convenience init(
        memory: GuestMemory, size: UInt16, at base: GuestAddress,
        eventIndex: Bool = false, indirectDescriptors: Bool = false, startIndex: UInt16 = 0
    ) throws {
        let table = (base.value + 15) & ~15
        let availRing = table + 16 * UInt64(size)
        let usedRing = (availRing + 6 + 2 * UInt64(size) + 3) & ~3
        try self.init(
            memory: memory,
            configuration: VirtqueueConfiguration(
                size: size, descriptorTable: GuestAddress(table), availRing: GuestAddress(availRing),
                usedRing: GuestAddress(usedRing), eventIndex: eventIndex, indirectDescriptors: indirectDescriptors),
            startIndex: startIndex)
    }

    public var size: UInt16 { configuration.size }
    /// First byte after the used ring (with the contiguous layout): room for buffers.
    public var endAddress: GuestAddress {
        GuestAddress(configuration.usedRing.value + 6 + 8 * UInt64(size))
    }
    public var freeDescriptorCount: Int { freeDescriptors.count }

    // MARK: Well-behaved chains

    /// Writes a chain of `readable` then `writable` buffers and puts its head in the avail
    /// ring; with `indirectTable` the buffers go in a table there, pointed to by one
    /// INDIRECT descriptor. Publishes the new avail idx unless `publish` is false.
    @discardableResult
    public func addChain(
        readable: [DescriptorChain.Buffer] = [], writable: [DescriptorChain.Buffer] = [],
        indirectTable: GuestAddress? = nil, publish: Bool = true
    ) throws -> UInt16 {
        let buffers = readable.map { ($0, UInt16(0)) } + writable.map { ($0, Self.flagWrite) }
        guard !buffers.isEmpty else { throw VirtqueueDriverError.emptyChain }
        let needed = indirectTable == nil ? buffers.count : 1
        guard needed <= freeDescriptors.count else {
            throw VirtqueueDriverError.outOfDescriptors(needed: needed, free: freeDescriptors.count)
        }
        let indices = (0..<needed).compactMap { _ in freeDescriptors.popLast() }
        if let indirectTable {
            for (entry, (buffer, flags)) in buffers.enumerated() {
                let last = entry == buffers.count - 1
                try writeDescriptor(
                    UInt16(entry), address: buffer.address.value, length: buffer.length,
                    flags: flags | (last ? 0 : Self.flagNext), next: last ? 0 : UInt16(entry + 1), table: indirectTable)
            }
            try writeDescriptor(
                indices[0], address: indirectTable.value, length: UInt32(16 * buffers.count),
                flags: Self.flagIndirect, next: 0)
        } else {
            for (position, (buffer, flags)) in buffers.enumerated() {
                let last = position == buffers.count - 1
                try writeDescriptor(
                    indices[position], address: buffer.address.value, length: buffer.length,
                    flags: flags | (last ? 0 : Self.flagNext), next: last ? 0 : indices[position + 1])
            }
        }
        chainDescriptors[indices[0]] = indices
        try pushAvail(head: indices[0])
        if publish { try self.publish() }
        return indices[0]
    }

    /// Makes every chain added so far visible: writes the avail idx (after the entries,
    /// which on one host thread is ordering enough for tests).
    public func publish() throws {
        try setAvailIndex(availIndex)
    }

    /// The next used element, if the device has returned one; frees its descriptors.
    public func popUsed() throws -> (head: UInt16, length: UInt32)? {
        guard lastUsedIndex != usedIndex() else { return nil }
        let slot = UInt64(lastUsedIndex & (size &- 1))
        let head = UInt32(littleEndian: try memory.read(UInt32.self, at: used(4 + 8 * slot)))
        let length = UInt32(littleEndian: try memory.read(UInt32.self, at: used(8 + 8 * slot)))
        lastUsedIndex &+= 1
        let id = UInt16(truncatingIfNeeded: head)
        if let descriptors = chainDescriptors.removeValue(forKey: id) {
            freeDescriptors.append(contentsOf: descriptors)
        }
        return (id, length)
    }

    /// Whether the driver must kick the device after publishing from `oldAvailIndex` to the
    /// current published idx (virtio 1.2 section 2.7.10: avail_event or NO_NOTIFY).
    public func kickNeeded(since oldAvailIndex: UInt16) -> Bool {
        if configuration.eventIndex {
            let event = availEvent()
            return (publishedAvailIndex &- event &- 1) < (publishedAvailIndex &- oldAvailIndex)
        }
        return usedFlags() & 1 == 0
    }

    // MARK: Raw access, for playing a hostile guest

    /// Writes one descriptor into the queue's table or, with `table`, into an indirect one.
    public func writeDescriptor(
        _ index: UInt16, address: UInt64, length: UInt32, flags: UInt16, next: UInt16,
        table: GuestAddress? = nil
    ) throws {
        let base = (table ?? configuration.descriptorTable).value + 16 * UInt64(index)
        try memory.write(address.littleEndian, at: GuestAddress(base))
        try memory.write(length.littleEndian, at: GuestAddress(base + 8))
        try memory.write(flags.littleEndian, at: GuestAddress(base + 12))
        try memory.write(next.littleEndian, at: GuestAddress(base + 14))
    }

    /// Puts `head` in the next avail ring slot without publishing it.
    public func pushAvail(head: UInt16) throws {
        let slot = UInt64(availIndex & (size &- 1))
        try memory.write(head.littleEndian, at: avail(4 + 2 * slot))
        availIndex &+= 1
    }

    /// Writes the avail ring's idx field, whatever the value.
    public func setAvailIndex(_ index: UInt16) throws {
        try memory.write(index.littleEndian, at: avail(2))
        publishedAvailIndex = index
    }

    /// The avail ring's flags (VIRTQ_AVAIL_F_NO_INTERRUPT = 1).
    public func setAvailFlags(_ flags: UInt16) throws {
        try memory.write(flags.littleEndian, at: avail(0))
    }

    /// used_event: interrupt me once the used idx passes this (EVENT_IDX).
    public func setUsedEvent(_ index: UInt16) throws {
        try memory.write(index.littleEndian, at: avail(4 + 2 * UInt64(size)))
    }

    public func usedIndex() -> UInt16 { readU16(used(2)) }
    public func usedFlags() -> UInt16 { readU16(used(0)) }
    /// avail_event: the device wants a kick once the avail idx passes this (EVENT_IDX).
    public func availEvent() -> UInt16 { readU16(used(4 + 8 * UInt64(size))) }

    private func avail(_ offset: UInt64) -> GuestAddress { GuestAddress(configuration.availRing.value + offset) }
    private func used(_ offset: UInt64) -> GuestAddress { GuestAddress(configuration.usedRing.value + offset) }
    /// Ring fields the initializer already wrote, so a failure is a bug in the test: 0xFFFF
    /// makes it loud without throwing from a property-like read.
    private func readU16(_ address: GuestAddress) -> UInt16 {
        (try? memory.read(UInt16.self, at: address)).map { UInt16(littleEndian: $0) } ?? 0xFFFF
    }
}

/// What the mock driver refuses to do.
public enum VirtqueueDriverError: Error, Equatable, CustomStringConvertible {
    case outOfDescriptors(needed: Int, free: Int)
    case emptyChain

    public var description: String {
        switch self {
        case .outOfDescriptors(let needed, let free):
            return "mock virtqueue driver: chain needs \(needed) descriptors, \(free) free"
        case .emptyChain:
            return "mock virtqueue driver: a chain needs at least one buffer"
        }
    }
}
