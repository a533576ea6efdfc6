import Testing
import SwiftletDevices
import SwiftletMemory

@Suite struct VirtioNetRingLimitTests {
    typealias P = VirtioNetProtocol
    typealias F = VirtioDeviceFixture

    @Test func aPacketLargerThanTheWholeRingIsDroppedNotWaitedForForever() throws {
        let h = try VirtioNetHarness(features: P.featureMergeableRxBuffers, size: 4)
        try h.addReceiveBuffers(4, length: 100)
        try h.backend.inject(netHeader() + payload(1000))  // needs 11 buffers of 100; the ring has 4
        try h.backend.inject(netHeader() + payload(50))
        #expect(try h.device.process(queue: P.receiveQueue))
        #expect(h.device.droppedPackets == 1)
        // The held chains serve the next packet.
        #expect(try h.rx.popUsed()?.length == 62)
        #expect(h.backend.receiving)
    }

    @Test func chainsTooSmallForAHeaderGoBackEmpty() throws {
        let h = try VirtioNetHarness(features: P.featureMergeableRxBuffers)
        try h.rx.addChain(writable: [F.buffer(0x40000, 4)])
        try h.rx.addChain(readable: [F.buffer(0x48000, 64)])
        try h.addReceiveBuffers(1, length: 200, from: 0x50000)
        try h.backend.inject(netHeader() + payload(20))
        #expect(try h.device.process(queue: P.receiveQueue))
        #expect(try h.rx.popUsed()?.length == 0)
        #expect(try h.rx.popUsed()?.length == 0)
        #expect(try h.rx.popUsed()?.length == 32)
        #expect(try h.memory.readBytes(at: GuestAddress(0x50000 + 12), count: 20) == payload(20))
    }
}
