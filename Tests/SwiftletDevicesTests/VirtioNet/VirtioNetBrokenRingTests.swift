import Testing
import SwiftletDevices
import SwiftletMemory

/// A device whose ring the driver broke needs a reset (virtio 1.2 section 2.1.2) and must
/// take nothing from the host until it gets one: the event loop is level-triggered, so a
/// tap still registered and holding frames would have the loop call the device, which
/// fails on its ring again, forever (issue 17's busy loop).
@Suite struct VirtioNetBrokenRingTests {
    typealias P = VirtioNetProtocol
    typealias F = VirtioDeviceFixture

    /// The driver's avail index jumps more than a ring ahead while frames wait.
    func brokenReceiveRing() throws -> VirtioNetHarness {
        let h = try VirtioNetHarness()
        try h.addReceiveBuffers(2, length: 2048)
        _ = try h.device.process(queue: P.receiveQueue)  // buffers, no frames yet: listening
        #expect(h.backend.receiving)
        for seed in 0..<4 { try h.backend.inject(netHeader() + payload(100, seed: seed)) }
        try h.rx.setAvailIndex(h.rx.publishedAvailIndex &+ h.rx.size &+ 1)
        #expect(throws: VirtqueueError.self) { try h.device.backendReadable() }
        return h
    }

    @Test func aBrokenReceiveRingStopsListeningToTheBackend() throws {
        let h = try brokenReceiveRing()
        #expect(!h.backend.receiving, "the tap would stay in the event loop, readable forever")
        // A readiness report already on its way, or a kick, touches neither the backend
        // nor the ring again.
        let reads = h.backend.receiveCalls
        #expect(try !h.device.backendReadable())
        #expect(try !h.device.process(queue: P.receiveQueue))
        #expect(h.backend.receiveCalls == reads)
        #expect(!h.backend.receiving)
    }

    @Test func aResetDeviceOnGoodRingsReceivesAgain() throws {
        let h = try brokenReceiveRing()
        h.device.reset()
        let fresh = try F(queues: 2)
        try h.device.activate(features: 0, queues: fresh.queues)
        let rx = fresh.drivers[P.receiveQueue]
        for index in 0..<4 { try rx.addChain(writable: [F.buffer(0x40000 + 0x1000 * UInt64(index), 2048)]) }
        #expect(try h.device.process(queue: P.receiveQueue))
        #expect(h.backend.receiving)  // three frames delivered, buffers left: listening
        // Frame 0 was in hand when the ring broke and went with the reset; frame 1 is next.
        #expect(try rx.popUsed()?.length == UInt32(P.headerSize + 100))
        #expect(try fresh.memory.readBytes(at: GuestAddress(0x40000 + UInt64(P.headerSize)), count: 100)
                == payload(100, seed: 1))
    }

    @Test func aBrokenTransmitRingAlsoStopsReceiving() throws {
        let h = try VirtioNetHarness()
        try h.addReceiveBuffers(2, length: 2048)
        _ = try h.device.process(queue: P.receiveQueue)
        #expect(h.backend.receiving)
        try h.tx.setAvailIndex(h.tx.publishedAvailIndex &+ h.tx.size &+ 1)
        #expect(throws: VirtqueueError.self) { try h.device.process(queue: P.transmitQueue) }
        #expect(!h.backend.receiving)
        try h.backend.inject(netHeader() + payload(100))
        let reads = h.backend.receiveCalls
        #expect(try !h.device.backendReadable())
        #expect(h.backend.receiveCalls == reads)
    }
}
