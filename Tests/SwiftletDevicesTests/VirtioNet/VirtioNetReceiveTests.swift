import Testing
import SwiftletDevices
import SwiftletMemory

@Suite struct VirtioNetReceiveTests {
    typealias P = VirtioNetProtocol
    typealias F = VirtioDeviceFixture

    @Test func headerFromTheTapReachesTheGuestUntouchedButNumBuffers() throws {
        let h = try VirtioNetHarness(features: P.featureGuestChecksum | P.featureGuestTSO4)
        try h.addReceiveBuffers(1, length: 2048)
        // A TSO4 packet with a partial checksum, as a tap with TUN_F_TSO4 hands it over;
        // the tap leaves num_buffers as garbage.
        let header = netHeader(flags: 1, gsoType: 1, headerLength: 54, gsoSize: 1448,
                               checksumStart: 34, checksumOffset: 16, numBuffers: 0xBEEF)
        let data = payload(1000)
        try h.backend.inject(header + data)
        #expect(try h.device.process(queue: P.receiveQueue))
        #expect(try h.rx.popUsed()?.length == UInt32(12 + data.count))
        let expected = netHeader(flags: 1, gsoType: 1, headerLength: 54, gsoSize: 1448,
                                 checksumStart: 34, checksumOffset: 16, numBuffers: 1) + data
        #expect(try h.memory.readBytes(at: GuestAddress(0x40000), count: expected.count) == expected)
        #expect(h.backend.offloads == [VirtioNetOffloads(checksum: true, tso4: true, tso6: false)])
    }

    @Test func offloadsFollowWhatTheDriverAccepted() throws {
        #expect(try VirtioNetHarness(features: 0).backend.offloads == [VirtioNetOffloads()])
        // TSO without GUEST_CSUM is not allowed (5.1.3.1): the tap must not send it.
        #expect(try VirtioNetHarness(features: P.featureGuestTSO6).backend.offloads == [VirtioNetOffloads()])
        let all = P.featureGuestChecksum | P.featureGuestTSO4 | P.featureGuestTSO6
        #expect(try VirtioNetHarness(features: all).backend.offloads
                == [VirtioNetOffloads(checksum: true, tso4: true, tso6: true)])
    }

    @Test func mergeableBuffersCarryOnePacketAcrossChains() throws {
        let h = try VirtioNetHarness(features: P.featureMergeableRxBuffers)
        try h.addReceiveBuffers(4, length: 1000)
        let data = payload(2500, seed: 5)
        try h.backend.inject(netHeader() + data)
        #expect(try h.device.process(queue: P.receiveQueue))
        // 2512 bytes: 1000 + 1000 + 512, and the fourth chain stays with the device.
        var lengths: [UInt32] = []
        while let used = try h.rx.popUsed() { lengths.append(used.length) }
        #expect(lengths == [1000, 1000, 512])
        let header = try h.memory.readBytes(at: GuestAddress(0x40000), count: 12)
        #expect(header == netHeader(numBuffers: 3))
        let received = try h.memory.readBytes(at: GuestAddress(0x40000 + 12), count: 988)
            + h.memory.readBytes(at: GuestAddress(0x50000), count: 1000)
            + h.memory.readBytes(at: GuestAddress(0x60000), count: 512)
        #expect(received == data)
        // The next packet takes the chain that was left over (0x70000) first.
        try h.backend.inject(netHeader() + payload(100))
        _ = try h.device.process(queue: P.receiveQueue)
        #expect(try h.rx.popUsed()?.length == 112)
        #expect(try h.memory.readBytes(at: GuestAddress(0x70000), count: 12) == netHeader(numBuffers: 1))
    }

    @Test func aPacketThatNeedsMoreBuffersWaitsForThem() throws {
        let h = try VirtioNetHarness(features: P.featureMergeableRxBuffers)
        try h.addReceiveBuffers(1, length: 1000)
        try h.backend.inject(netHeader() + payload(1500))
        #expect(try h.device.process(queue: P.receiveQueue) == false)
        #expect(try h.rx.popUsed() == nil)  // not half a packet
        #expect(!h.backend.receiving)
        try h.addReceiveBuffers(1, length: 1000, from: 0x80000)
        #expect(try h.device.process(queue: P.receiveQueue))
        #expect(try h.rx.popUsed()?.length == 1000)
        #expect(try h.rx.popUsed()?.length == 512)
        #expect(h.backend.receiving)
    }

    @Test func withoutMergeableBuffersAnOversizedPacketIsDroppedAndTheChainKept() throws {
        let h = try VirtioNetHarness()
        try h.addReceiveBuffers(1, length: 1000)
        try h.backend.inject(netHeader() + payload(2000))
        try h.backend.inject(netHeader() + payload(50))
        #expect(try h.device.process(queue: P.receiveQueue))
        #expect(try h.rx.popUsed()?.length == 62)
        #expect(try h.rx.popUsed() == nil)
        #expect(h.device.droppedPackets == 1)
        #expect(try h.memory.readBytes(at: GuestAddress(0x40000), count: 12) == netHeader(numBuffers: 1))
    }

    @Test func packetsShorterThanAHeaderAreDropped() throws {
        let h = try VirtioNetHarness()
        try h.addReceiveBuffers(1, length: 1000)
        try h.backend.inject([1, 2, 3])
        #expect(try h.device.process(queue: P.receiveQueue) == false)
        #expect(h.device.droppedPackets == 1)
        #expect(try h.rx.popUsed() == nil)
    }

    @Test func noBuffersMeansTheBackendIsNotReadUntilAKick() throws {
        let h = try VirtioNetHarness(features: P.featureMergeableRxBuffers)
        for seed in 0..<3 { try h.backend.inject(netHeader() + payload(64, seed: seed)) }
        // The first look finds no buffers: one packet is read and kept, then it stops.
        #expect(try h.device.process(queue: P.receiveQueue) == false)
        #expect(h.backend.receiveCalls == 1)
        #expect(h.backend.receivingChanges == [])  // never started
        // A readiness report that slips through changes nothing: no read, no drop.
        #expect(try h.device.backendReadable() == false)
        #expect(h.backend.receiveCalls == 1)
        #expect(h.device.droppedPackets == 0)
        // The guest adds buffers and kicks: all three arrive, in order, and the device
        // listens to the backend again.
        try h.addReceiveBuffers(3, length: 200)
        #expect(try h.device.process(queue: P.receiveQueue))
        for seed in 0..<3 {
            #expect(try h.rx.popUsed()?.length == 76)
            let data = try h.memory.readBytes(at: GuestAddress(0x40000 + 0x10000 * UInt64(seed) + 12), count: 64)
            #expect(data == payload(64, seed: seed))
        }
        #expect(h.backend.receivingChanges == [true])
        // Out of buffers again with a packet waiting: it stops listening.
        try h.backend.inject(netHeader() + payload(64))
        #expect(try h.device.backendReadable() == false)
        #expect(h.backend.receivingChanges == [true, false])
    }

    @Test func aResetForgetsThePacketAndStopsListening() throws {
        let h = try VirtioNetHarness()
        try h.addReceiveBuffers(1, length: 100)
        _ = try h.device.process(queue: P.receiveQueue)
        #expect(h.backend.receiving)
        h.device.reset()
        #expect(!h.backend.receiving)
        #expect(try h.device.process(queue: P.receiveQueue) == false)  // not activated
    }
}
