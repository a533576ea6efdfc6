import Testing
import SwiftletDevices
import SwiftletMemory

@Suite struct VirtioNetTransmitTests {
    typealias P = VirtioNetProtocol
    typealias F = VirtioDeviceFixture

    @Test func eachChainIsOnePacketHeaderIncludedAndAKickSendsThemAll() throws {
        let h = try VirtioNetHarness(features: P.featureChecksum | P.featureHostTSO6)
        var expected: [[UInt8]] = []
        for index in 0..<3 {
            // The guest's GSO request rides in the header; the tap does the segmenting.
            let header = netHeader(flags: 1, gsoType: 4, headerLength: 74, gsoSize: 1428,
                                   checksumStart: 54, checksumOffset: 16)
            let data = payload(3000 + index, seed: index)
            let base = 0x40000 + 0x10000 * UInt64(index)
            // Header and data split over buffers in an awkward place.
            try h.memory.write(bytes: header + data.prefix(5), at: GuestAddress(base))
            try h.memory.write(bytes: data.dropFirst(5), at: GuestAddress(base + 0x8000))
            try h.tx.addChain(readable: [F.buffer(base, 17), F.buffer(base + 0x8000, UInt32(data.count - 5))])
            expected.append(header + data)
        }
        #expect(try h.device.process(queue: P.transmitQueue))
        #expect(h.backend.sentPackets() == expected)
        for _ in 0..<3 { #expect(try h.tx.popUsed()?.length == 0) }
        #expect(try h.tx.popUsed() == nil)
    }

    @Test func aChainWithoutAWholeHeaderIsNotSent() throws {
        let h = try VirtioNetHarness()
        try h.tx.addChain(readable: [F.buffer(0x40000, 11)])
        try h.tx.addChain(writable: [F.buffer(0x50000, 100)])
        try h.memory.write(bytes: netHeader() + payload(10), at: GuestAddress(0x60000))
        try h.tx.addChain(readable: [F.buffer(0x60000, 22)])
        #expect(try h.device.process(queue: P.transmitQueue))
        #expect(h.backend.sentPackets() == [netHeader() + payload(10)])
        #expect(h.device.droppedTransmits == 2)
    }
}

@Suite struct VirtioNetConfigTests {
    typealias P = VirtioNetProtocol

    @Test func identityFeaturesAndConfiguration() throws {
        let backend = try SocketPairBackend()
        let device = VirtioNet(mac: [0x02, 0x11, 0x22, 0x33, 0x44, 0x55], backend: backend)
        #expect(device.deviceID == 1)
        #expect(device.queueMaxSizes.count == 2)
        let bits: [UInt64] = [0, 1, 5, 7, 8, 11, 12, 15, 16]
        #expect(device.deviceFeatures == bits.reduce(0) { $0 | 1 << $1 })
        #expect(device.configRead(offset: 0, size: 4) == 0x3322_1102)
        #expect(device.configRead(offset: 4, size: 2) == 0x5544)
        #expect(device.configRead(offset: 6, size: 2) == UInt64(P.Config.linkUp))
        device.configWrite(offset: 0, size: 1, value: 0xFF)
        #expect(device.configRead(offset: 0, size: 1) == 0x02)
        #expect(throws: VirtioDeviceError.queueCount(device: "net", expected: 2, got: 1)) {
            let f = try VirtioDeviceFixture(queues: 1)
            try device.activate(features: 0, queues: f.queues)
        }
    }
}
