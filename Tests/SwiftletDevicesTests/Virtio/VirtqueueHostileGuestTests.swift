import Testing
import SwiftletDevices
import SwiftletMemory
import SwiftletTestSupport

/// A guest may write anything into its rings. Each rule of the walk gets a chain that
/// breaks exactly that rule, and must get back exactly that error.
@Suite struct VirtqueueHostileGuestTests {
    typealias F = VirtqueueFixture
    static let next = VirtqueueDriver.flagNext
    static let write = VirtqueueDriver.flagWrite
    static let indirect = VirtqueueDriver.flagIndirect
    static let table = GuestAddress(0x8000)

    /// Publishes `head` and pops it.
    private func pop(_ f: F, head: UInt16) throws(VirtqueueError) -> DescriptorChain? {
        do { try f.driver.pushAvail(head: head); try f.driver.publish() } catch { return nil }
        return try f.queue.popChain()
    }

    @Test func loopThroughNextIsCaught() throws {
        let f = try F()
        try f.driver.writeDescriptor(0, address: 0x10000, length: 4, flags: Self.next, next: 1)
        try f.driver.writeDescriptor(1, address: 0x10000, length: 4, flags: Self.next, next: 0)
        #expect(throws: VirtqueueError.chainLoop(head: 0)) { try pop(f, head: 0) }
        // A descriptor that points at itself too.
        try f.driver.writeDescriptor(2, address: 0x10000, length: 4, flags: Self.next, next: 2)
        #expect(throws: VirtqueueError.chainLoop(head: 2)) { try pop(f, head: 2) }
    }

    @Test func chainAsLongAsTheQueueIsFine() throws {
        let f = try F(size: 4)
        for i in UInt16(0)..<4 {
            try f.driver.writeDescriptor(i, address: 0x10000, length: 1, flags: i < 3 ? Self.next : 0, next: i + 1)
        }
        #expect(try pop(f, head: 0)?.readable.count == 4)
    }

    @Test func indicesPastTheQueueAreRefused() throws {
        let f = try F()
        #expect(throws: VirtqueueError.descriptorIndexOutOfRange(index: 16, size: 16)) { try pop(f, head: 16) }
        #expect(throws: VirtqueueError.descriptorIndexOutOfRange(index: 0xffff, size: 16)) { try pop(f, head: 0xffff) }
        try f.driver.writeDescriptor(0, address: 0x10000, length: 4, flags: Self.next, next: 200)
        #expect(throws: VirtqueueError.descriptorIndexOutOfRange(index: 200, size: 16)) { try pop(f, head: 0) }
    }

    @Test func readableAfterWritableIsRefused() throws {
        let f = try F()
        try f.driver.writeDescriptor(0, address: 0x10000, length: 4, flags: Self.next, next: 1)
        try f.driver.writeDescriptor(1, address: 0x20000, length: 4, flags: Self.write | Self.next, next: 2)
        try f.driver.writeDescriptor(2, address: 0x30000, length: 4, flags: 0, next: 0)
        #expect(throws: VirtqueueError.readableAfterWritable(head: 0)) { try pop(f, head: 0) }
    }

    @Test func buffersOutsideRAMAreRefused() throws {
        let f = try F()
        try f.driver.writeDescriptor(0, address: F.ramSize, length: 1, flags: 0, next: 0)
        #expect(throws: VirtqueueError.bufferOutsideRAM(GuestAddress(F.ramSize), length: 1)) { try pop(f, head: 0) }
        // Starting in RAM but running off its end.
        try f.driver.writeDescriptor(1, address: F.ramSize - 4, length: 8, flags: Self.write, next: 0)
        #expect(throws: VirtqueueError.bufferOutsideRAM(GuestAddress(F.ramSize - 4), length: 8)) { try pop(f, head: 1) }
    }

    @Test func wrappingBuffersAreRefused() throws {
        let f = try F()
        try f.driver.writeDescriptor(0, address: UInt64.max - 3, length: 0x1000, flags: 0, next: 0)
        #expect(throws: VirtqueueError.bufferWraps(GuestAddress(UInt64.max - 3), length: 0x1000)) {
            try pop(f, head: 0)
        }
    }

    @Test func chainsOverTheByteCapAreRefused() throws {
        let memory = try GuestMemory(ranges: [(0, 0x10_0000)])
        let driver = try VirtqueueDriver(memory: memory, size: 8, at: GuestAddress(0x1000))
        var configuration = driver.configuration
        configuration.maxChainBytes = 0x1000
        let queue = try Virtqueue(memory: memory, configuration: configuration)
        try driver.addChain(readable: [F.buffer(0x10000, 0x800)], writable: [F.buffer(0x20000, 0x800)])
        #expect(try queue.popChain()?.writableLength == 0x800)
        try driver.addChain(readable: [F.buffer(0x10000, 0x800)], writable: [F.buffer(0x20000, 0x801)])
        #expect(throws: VirtqueueError.chainTooLong(head: 2, limit: 0x1000)) { try queue.popChain() }
    }

    @Test func availIndexJumpIsRefused() throws {
        let f = try F()
        try f.driver.setAvailIndex(17)
        #expect(throws: VirtqueueError.availIndexJump(availIndex: 17, lastSeen: 0, size: 16)) { try f.queue.popChain() }
        // "Behind" us is a jump of nearly 2^16 in u16 arithmetic.
        try f.driver.setAvailIndex(0xffff)
        #expect(throws: VirtqueueError.self) { try f.queue.popChain() }
        // Exactly `size` ahead is legal (a full ring).
        try f.driver.setAvailIndex(16)
        #expect(try f.queue.availableCount() == 16)
    }

    @Test func badChainIsConsumedSoTheNextOneIsReachable() throws {
        let f = try F()
        // Descriptor 15: the mock driver hands out 0, 1, ... for its own chains.
        try f.driver.writeDescriptor(15, address: F.ramSize, length: 1, flags: 0, next: 0)
        try f.driver.pushAvail(head: 15)
        let good = try f.driver.addChain(readable: [F.buffer(0x10000, 4)])
        #expect(throws: VirtqueueError.self) { try f.queue.popChain() }
        #expect(try f.queue.popChain()?.head == good)
    }

    // MARK: Indirect tables

    @Test func indirectNeedsTheFeature() throws {
        let f = try F(indirect: false)
        try f.driver.writeDescriptor(0, address: 0x10000, length: 4, flags: 0, next: 0, table: Self.table)
        try f.driver.writeDescriptor(0, address: Self.table.value, length: 16, flags: Self.indirect, next: 0)
        #expect(throws: VirtqueueError.indirectNotNegotiated(head: 0)) { try pop(f, head: 0) }
    }

    @Test func indirectWithNextIsRefused() throws {
        let f = try F(indirect: true)
        try f.driver.writeDescriptor(0, address: 0x10000, length: 4, flags: 0, next: 0, table: Self.table)
        try f.driver.writeDescriptor(0, address: Self.table.value, length: 16, flags: Self.indirect | Self.next, next: 1)
        try f.driver.writeDescriptor(1, address: 0x10000, length: 4, flags: 0, next: 0)
        #expect(throws: VirtqueueError.indirectWithNext(head: 0)) { try pop(f, head: 0) }
    }

    @Test func indirectTableLengthMustBeWholeEntries() throws {
        let f = try F(indirect: true)
        for length: UInt32 in [0, 8, 17, 40] {
            try f.driver.writeDescriptor(0, address: Self.table.value, length: length, flags: Self.indirect, next: 0)
            #expect(throws: VirtqueueError.indirectTableLength(length: length)) { try pop(f, head: 0) }
        }
        try f.driver.writeDescriptor(0, address: Self.table.value, length: 16 * 32769, flags: Self.indirect, next: 0)
        #expect(throws: VirtqueueError.indirectTableTooLarge(entries: 32769)) { try pop(f, head: 0) }
    }

    @Test func indirectTableMustBeInRAM() throws {
        let f = try F(indirect: true)
        try f.driver.writeDescriptor(0, address: F.ramSize - 16, length: 32, flags: Self.indirect, next: 0)
        #expect(throws: VirtqueueError.indirectTableOutsideRAM(GuestAddress(F.ramSize - 16), length: 32)) {
            try pop(f, head: 0)
        }
        try f.driver.writeDescriptor(1, address: UInt64.max - 15, length: 32, flags: Self.indirect, next: 0)
        #expect(throws: VirtqueueError.indirectTableOutsideRAM(GuestAddress(UInt64.max - 15), length: 32)) {
            try pop(f, head: 1)
        }
    }

    @Test func nestedIndirectIsRefused() throws {
        let f = try F(indirect: true)
        try f.driver.writeDescriptor(0, address: 0x10000, length: 4, flags: Self.next, next: 1, table: Self.table)
        try f.driver.writeDescriptor(1, address: 0x9000, length: 16, flags: Self.indirect, next: 0, table: Self.table)
        try f.driver.writeDescriptor(0, address: Self.table.value, length: 32, flags: Self.indirect, next: 0)
        #expect(throws: VirtqueueError.nestedIndirect(head: 0)) { try pop(f, head: 0) }
    }

    @Test func indirectLoopsAndIndicesAreCaught() throws {
        let f = try F(indirect: true)
        try f.driver.writeDescriptor(0, address: 0x10000, length: 4, flags: Self.next, next: 1, table: Self.table)
        try f.driver.writeDescriptor(1, address: 0x10000, length: 4, flags: Self.next, next: 0, table: Self.table)
        try f.driver.writeDescriptor(0, address: Self.table.value, length: 32, flags: Self.indirect, next: 0)
        #expect(throws: VirtqueueError.indirectLoop(head: 0)) { try pop(f, head: 0) }

        try f.driver.writeDescriptor(1, address: 0x10000, length: 4, flags: Self.next, next: 2, table: Self.table)
        #expect(throws: VirtqueueError.indirectIndexOutOfRange(index: 2, entries: 2)) { try pop(f, head: 0) }
    }

    @Test func indirectBuffersAreCheckedLikeDirectOnes() throws {
        let f = try F(indirect: true)
        try f.driver.writeDescriptor(0, address: 0x20000, length: 4, flags: Self.write | Self.next, next: 1, table: Self.table)
        try f.driver.writeDescriptor(1, address: 0x10000, length: 4, flags: 0, next: 0, table: Self.table)
        try f.driver.writeDescriptor(0, address: Self.table.value, length: 32, flags: Self.indirect, next: 0)
        #expect(throws: VirtqueueError.readableAfterWritable(head: 0)) { try pop(f, head: 0) }

        try f.driver.writeDescriptor(1, address: F.ramSize, length: 4, flags: Self.write, next: 0, table: Self.table)
        #expect(throws: VirtqueueError.bufferOutsideRAM(GuestAddress(F.ramSize), length: 4)) { try pop(f, head: 0) }
    }

    @Test func usedHeadPastTheQueueIsRefused() throws {
        let f = try F()
        #expect(throws: VirtqueueError.usedHeadOutOfRange(head: 16, size: 16)) {
            try f.queue.addUsed(head: 16, writtenLength: 0)
        }
        #expect(f.driver.usedIndex() == 0)
    }
}
