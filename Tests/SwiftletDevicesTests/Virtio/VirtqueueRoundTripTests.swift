import Testing
import SwiftletDevices
import SwiftletMemory
import SwiftletTestSupport

@Suite struct VirtqueueRoundTripTests {
    typealias F = VirtqueueFixture

    @Test func normalChainGoesAroundTheRing() throws {
        let f = try F()
        #expect(try f.queue.popChain() == nil)
        try f.memory.write(bytes: Array("ping".utf8), at: GuestAddress(0x10000))
        let head = try f.driver.addChain(
            readable: [F.buffer(0x10000, 4)], writable: [F.buffer(0x20000, 8), F.buffer(0x30000, 8)])

        let chain = try #require(try f.queue.popChain())
        #expect(chain.head == head)
        #expect(chain.readable == [F.buffer(0x10000, 4)])
        #expect(chain.writable == [F.buffer(0x20000, 8), F.buffer(0x30000, 8)])
        #expect(chain.readableLength == 4 && chain.writableLength == 16)
        #expect(try f.queue.popChain() == nil)

        var reader = ChainReader(memory: f.memory, chain: chain)
        #expect(try reader.readBytes(count: 4) == Array("ping".utf8))
        var writer = ChainWriter(memory: f.memory, chain: chain)
        try writer.write(bytes: Array("pong".utf8))
        try f.queue.addUsed(chain, writtenLength: writer.usedLength)

        #expect(f.driver.usedIndex() == 1)
        let used = try #require(try f.driver.popUsed())
        #expect(used.head == head && used.length == 4)
        #expect(try f.memory.readBytes(at: GuestAddress(0x20000), count: 4) == Array("pong".utf8))
        #expect(f.driver.freeDescriptorCount == 16)
    }

    @Test func manyChainsWrapTheRingAndTheIndex() throws {
        // Start near 2^16 so both the ring slot and the u16 index wrap during the test.
        let f = try F(size: 4, startIndex: 65534)
        for round in 0..<10 {
            let a = try f.driver.addChain(readable: [F.buffer(0x10000, 1)], publish: false)
            let b = try f.driver.addChain(writable: [F.buffer(0x20000, 2)])
            #expect(try f.queue.availableCount() == 2)
            let first = try #require(try f.queue.popChain())
            let second = try #require(try f.queue.popChain())
            #expect(first.head == a && second.head == b)
            try f.queue.addUsed(head: b, writtenLength: 2)
            try f.queue.addUsed(head: a, writtenLength: 0)
            #expect(try f.driver.popUsed()?.head == b)
            #expect(try f.driver.popUsed()?.head == a)
            #expect(f.queue.nextAvailIndex == 65534 &+ UInt16(2 * (round + 1)))
        }
        #expect(f.queue.nextUsedIndex == 65534 &+ 20)
    }

    @Test func unpublishedChainsStayInvisible() throws {
        let f = try F()
        try f.driver.addChain(readable: [F.buffer(0x10000, 4)], publish: false)
        #expect(try f.queue.popChain() == nil)
        try f.driver.publish()
        #expect(try f.queue.popChain() != nil)
    }

    @Test func indirectChainIsFlattened() throws {
        let f = try F(indirect: true)
        let head = try f.driver.addChain(
            readable: [F.buffer(0x10000, 16), F.buffer(0x11000, 1)],
            writable: [F.buffer(0x20000, 512), F.buffer(0x21000, 1)],
            indirectTable: GuestAddress(0x8000))
        #expect(f.driver.freeDescriptorCount == 15)
        let chain = try #require(try f.queue.popChain())
        #expect(chain.head == head)
        #expect(chain.readable == [F.buffer(0x10000, 16), F.buffer(0x11000, 1)])
        #expect(chain.writable == [F.buffer(0x20000, 512), F.buffer(0x21000, 1)])
    }

    @Test func directDescriptorsMayLeadIntoAnIndirectTable() throws {
        let f = try F(indirect: true)
        try f.driver.writeDescriptor(
            0, address: 0x8000, length: 16, flags: VirtqueueDriver.flagWrite, next: 0, table: GuestAddress(0x8000))
        try f.driver.writeDescriptor(3, address: 0x10000, length: 8, flags: VirtqueueDriver.flagNext, next: 5)
        try f.driver.writeDescriptor(5, address: 0x8000, length: 16, flags: VirtqueueDriver.flagIndirect, next: 0)
        try f.driver.pushAvail(head: 3)
        try f.driver.publish()
        let chain = try #require(try f.queue.popChain())
        #expect(chain.head == 3)
        #expect(chain.readable == [F.buffer(0x10000, 8)])
        #expect(chain.writable == [F.buffer(0x8000, 16)])
    }

    @Test func zeroLengthBuffersAreAllowedAndDropped() throws {
        let f = try F()
        // A zero-length buffer need not even be RAM: nothing will ever touch it.
        try f.driver.addChain(readable: [F.buffer(0xdead_0000_0000, 0), F.buffer(0x10000, 2)], writable: [F.buffer(0, 0)])
        let chain = try #require(try f.queue.popChain())
        #expect(chain.readable == [F.buffer(0x10000, 2)])
        #expect(chain.writable.isEmpty)
    }

    @Test func creationChecksSizeAlignmentAndRAM() throws {
        let memory = try GuestMemory(ranges: [(0, 0x10000)])
        func make(size: UInt16 = 16, desc: UInt64 = 0x1000, avail: UInt64 = 0x2000, used: UInt64 = 0x3000)
            throws(VirtqueueError) -> Virtqueue
        {
            try Virtqueue(
                memory: memory,
                configuration: VirtqueueConfiguration(
                    size: size, descriptorTable: GuestAddress(desc), availRing: GuestAddress(avail),
                    usedRing: GuestAddress(used)))
        }
        #expect(throws: Never.self) { try make() }
        #expect(throws: VirtqueueError.invalidQueueSize(0)) { try make(size: 0) }
        #expect(throws: VirtqueueError.invalidQueueSize(24)) { try make(size: 24) }
        #expect(throws: VirtqueueError.invalidQueueSize(65535)) { try make(size: 65535) }
        #expect(throws: VirtqueueError.areaMisaligned(.descriptorTable, GuestAddress(0x1008), alignment: 16)) {
            try make(desc: 0x1008)
        }
        #expect(throws: VirtqueueError.areaMisaligned(.availRing, GuestAddress(0x2001), alignment: 2)) {
            try make(avail: 0x2001)
        }
        #expect(throws: VirtqueueError.areaMisaligned(.usedRing, GuestAddress(0x3002), alignment: 4)) {
            try make(used: 0x3002)
        }
        // Outside RAM, straddling its end, and wrapping past 2^64.
        #expect(throws: VirtqueueError.areaOutsideRAM(.descriptorTable, GuestAddress(0x20000), count: 256)) {
            try make(desc: 0x20000)
        }
        #expect(throws: VirtqueueError.areaOutsideRAM(.availRing, GuestAddress(0xfff0), count: 38)) {
            try make(avail: 0xfff0)
        }
        #expect(throws: VirtqueueError.areaOutsideRAM(.usedRing, GuestAddress(0xffff_ffff_ffff_fff0), count: 134)) {
            try make(used: 0xffff_ffff_ffff_fff0)
        }
        // The largest size must fit too: 32768 descriptors are 512 KiB, more than this RAM.
        #expect(throws: VirtqueueError.areaOutsideRAM(.descriptorTable, GuestAddress(0x1000), count: 0x80000)) {
            try make(size: 32768)
        }
    }

    @Test func errorsHaveOneLineDescriptions() {
        let errors: [VirtqueueError] = [
            .availIndexJump(availIndex: 40, lastSeen: 2, size: 16), .chainLoop(head: 1),
            .bufferOutsideRAM(GuestAddress(0x1000), length: 4), .nestedIndirect(head: 0),
        ]
        for error in errors {
            #expect(!error.description.isEmpty && !error.description.contains("\n"))
        }
        #expect(VirtqueueError.availIndexJump(availIndex: 40, lastSeen: 2, size: 16).description.contains("40"))
    }
}
