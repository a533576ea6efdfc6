import SwiftletMemory

/// Walks a descriptor chain the way lguest's Launcher did: trusting nothing. Every index,
/// flag combination, address and length the guest wrote is checked before it becomes a
/// `DescriptorChain.Buffer` (virtio 1.2 sections 2.7.5 and 2.7.5.3).
struct DescriptorChainWalker {
    let memory: GuestMemory
    let configuration: VirtqueueConfiguration

    /// The largest indirect table we accept. The spec bounds no table size, but a chain
    /// longer than the largest queue is no use to any driver, and every entry costs the
    /// host time and memory.
    static let maxIndirectEntries: UInt32 = UInt32(VirtqueueLayout.maxSize)

    private struct State {
        var readable: [DescriptorChain.Buffer] = []
        var writable: [DescriptorChain.Buffer] = []
        var totalBytes: UInt64 = 0
        /// Set by the first writable descriptor, even a zero-length one.
        var sawWritable = false
    }

    func walk(head: UInt16) throws(VirtqueueError) -> DescriptorChain {
        let size = configuration.size
        var state = State()
        var index = head
        // A chain visits each descriptor at most once, so more than `size` hops is a loop.
        var hops = UInt32(size)
        while true {
            guard index < size else { throw .descriptorIndexOutOfRange(index: index, size: size) }
            guard hops > 0 else { throw .chainLoop(head: head) }
            hops -= 1
            let descriptor = try RawDescriptor.read(
                from: memory, table: configuration.descriptorTable, index: index)
            if descriptor.isIndirect {
                guard configuration.indirectDescriptors else { throw .indirectNotNegotiated(head: head) }
                // "A driver MUST NOT set both VIRTQ_DESC_F_INDIRECT and VIRTQ_DESC_F_NEXT".
                guard !descriptor.hasNext else { throw .indirectWithNext(head: head) }
                try walkIndirect(descriptor, head: head, into: &state)
                break
            }
            try accept(descriptor, head: head, into: &state)
            guard descriptor.hasNext else { break }
            index = descriptor.next
        }
        return DescriptorChain(head: head, readable: state.readable, writable: state.writable)
    }

    /// An indirect table: its own hop budget (its entry count) and no tables inside it.
    private func walkIndirect(
        _ table: RawDescriptor, head: UInt16, into state: inout State
    ) throws(VirtqueueError) {
        let length = table.length
        guard length > 0, UInt64(length) % VirtqueueLayout.descriptorSize == 0 else {
            throw .indirectTableLength(length: length)
        }
        let entries = length / UInt32(VirtqueueLayout.descriptorSize)
        guard entries <= Self.maxIndirectEntries else { throw .indirectTableTooLarge(entries: entries) }
        let base = GuestAddress(table.address)
        guard base.advanced(by: UInt64(length)) != nil, memory.contains(base, count: UInt64(length)) else {
            throw .indirectTableOutsideRAM(base, length: length)
        }
        // The table's first entry is entry 0 (virtio 1.2 section 2.7.5.3.2).
        var index: UInt16 = 0
        var hops = entries
        while true {
            guard UInt32(index) < entries else { throw .indirectIndexOutOfRange(index: index, entries: entries) }
            guard hops > 0 else { throw .indirectLoop(head: head) }
            hops -= 1
            let descriptor = try RawDescriptor.read(from: memory, table: base, index: index)
            guard !descriptor.isIndirect else { throw .nestedIndirect(head: head) }
            try accept(descriptor, head: head, into: &state)
            guard descriptor.hasNext else { return }
            index = descriptor.next
        }
    }

    /// Checks one buffer descriptor and files it as readable or writable.
    private func accept(
        _ descriptor: RawDescriptor, head: UInt16, into state: inout State
    ) throws(VirtqueueError) {
        let address = GuestAddress(descriptor.address)
        let length = descriptor.length
        if descriptor.isWritable {
            state.sawWritable = true
        } else if state.sawWritable {
            throw .readableAfterWritable(head: head)
        }
        guard address.advanced(by: UInt64(length)) != nil else { throw .bufferWraps(address, length: length) }
        state.totalBytes += UInt64(length)
        guard state.totalBytes <= configuration.maxChainBytes else {
            throw .chainTooLong(head: head, limit: configuration.maxChainBytes)
        }
        // A zero-length buffer moves no bytes; it is allowed and dropped, so nothing later
        // ever asks GuestMemory about an address that need not be RAM.
        guard length > 0 else { return }
        guard memory.contains(address, count: UInt64(length)) else {
            throw .bufferOutsideRAM(address, length: length)
        }
        let buffer = DescriptorChain.Buffer(address: address, length: length)
        if descriptor.isWritable {
            state.writable.append(buffer)
        } else {
            state.readable.append(buffer)
        }
    }
}
