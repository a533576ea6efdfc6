import Testing
import SwiftletDevices
import SwiftletMemory
import SwiftletTestSupport

@Suite struct VirtioConsoleTests {
    typealias F = VirtioDeviceFixture

    /// A console on two mock queues: receiveq at 0x1000, transmitq at 0x2000.
    private struct Harness {
        let fixture: F
        let output = OutputRecorder()
        let device: VirtioConsole
        let spaceCalls = CallCounter()
        var receiveDriver: VirtqueueDriver { fixture.drivers[0] }
        var transmitDriver: VirtqueueDriver { fixture.drivers[1] }
        var memory: GuestMemory { fixture.memory }

        init(size: (columns: UInt16, rows: UInt16)? = nil) throws {
            fixture = try F(queues: 2)
            let calls = spaceCalls
            device = VirtioConsole(size: size, output: output.sink, inputSpace: { calls.increment() })
            try device.activate(features: device.deviceFeatures, queues: fixture.queues)
        }
    }

    @Test func guestOutputReachesTheSinkInOrder() throws {
        let h = try Harness()
        try h.memory.write(bytes: Array("hel".utf8), at: GuestAddress(0x10000))
        try h.memory.write(bytes: Array("lo\n".utf8), at: GuestAddress(0x20000))
        try h.memory.write(bytes: Array("bye".utf8), at: GuestAddress(0x30000))
        try h.transmitDriver.addChain(readable: [F.buffer(0x10000, 3), F.buffer(0x20000, 3)], publish: false)
        try h.transmitDriver.addChain(readable: [F.buffer(0x30000, 3)])
        #expect(try h.device.process(queue: VirtioConsole.transmitQueue))
        #expect(h.output.recorded == Array("hello\nbye".utf8))
        #expect(try h.transmitDriver.popUsed()?.length == 0)  // nothing written back
        #expect(try h.transmitDriver.popUsed()?.length == 0)
        #expect(try h.device.process(queue: VirtioConsole.transmitQueue) == false)
    }

    @Test func hugeOutputBufferIsHandedOverInPieces() throws {
        let h = try Harness()
        try h.memory.fill(0x41, at: GuestAddress(0x40000), count: 0x30000)
        try h.transmitDriver.addChain(readable: [F.buffer(0x40000, 0x30000)])
        _ = try h.device.process(queue: VirtioConsole.transmitQueue)
        #expect(h.output.recorded.count == 0x30000 && h.output.recorded.allSatisfy { $0 == 0x41 })
        #expect(h.output.callCount == 3)  // 64 KiB each
    }

    @Test func inputFillsReceiveBuffers() throws {
        let h = try Harness()
        try h.receiveDriver.addChain(writable: [F.buffer(0x10000, 16)])
        #expect(try h.device.process(queue: VirtioConsole.receiveQueue) == false)
        #expect(h.device.hasReceiveBuffers)
        let result = try h.device.receive(Array("ls\n".utf8))
        #expect(result.accepted == 3 && result.needsInterrupt)
        #expect(try h.receiveDriver.popUsed()?.length == 3)
        #expect(try h.memory.readBytes(at: GuestAddress(0x10000), count: 3) == Array("ls\n".utf8))
        #expect(h.device.hasReceiveBuffers == false)
    }

    @Test func shortBuffersAcceptPartOfTheInputAndTheRestLater() throws {
        let h = try Harness()
        try h.receiveDriver.addChain(writable: [F.buffer(0x10000, 4)], publish: false)
        try h.receiveDriver.addChain(writable: [F.buffer(0x20000, 2), F.buffer(0x21000, 2)])
        let input = Array("abcdefghij".utf8)
        let first = try h.device.receive(input)
        #expect(first.accepted == 8 && first.needsInterrupt)
        #expect(try h.receiveDriver.popUsed()?.length == 4)
        #expect(try h.receiveDriver.popUsed()?.length == 4)
        #expect(try h.memory.readBytes(at: GuestAddress(0x10000), count: 4) == Array("abcd".utf8))
        #expect(try h.memory.readBytes(at: GuestAddress(0x20000), count: 2) == Array("ef".utf8))
        #expect(try h.memory.readBytes(at: GuestAddress(0x21000), count: 2) == Array("gh".utf8))
        #expect(h.device.hasReceiveBuffers == false)

        // No buffers: nothing fits, nothing is used.
        #expect(try h.device.receive(Array(input[8...])).accepted == 0)
        #expect(try h.receiveDriver.popUsed() == nil)

        // The driver adds a buffer and kicks: the caller learns it may offer the rest.
        try h.receiveDriver.addChain(writable: [F.buffer(0x30000, 64)])
        #expect(try h.device.process(queue: VirtioConsole.receiveQueue) == false)
        #expect(h.device.hasReceiveBuffers && h.spaceCalls.value == 1)
        let rest = try h.device.receive(Array(input[8...]))
        #expect(rest.accepted == 2)
        #expect(try h.receiveDriver.popUsed()?.length == 2)
        #expect(try h.memory.readBytes(at: GuestAddress(0x30000), count: 2) == Array("ij".utf8))
    }

    @Test func receiveChainWithoutRoomIsReturnedEmpty() throws {
        let h = try Harness()
        try h.receiveDriver.addChain(readable: [F.buffer(0x10000, 4)], publish: false)
        try h.receiveDriver.addChain(writable: [F.buffer(0x20000, 4)])
        #expect(try h.device.receive([1, 2, 3]).accepted == 3)
        #expect(try h.receiveDriver.popUsed()?.length == 0)
        #expect(try h.receiveDriver.popUsed()?.length == 3)
    }

    @Test func configHoldsTheSizeAndEmergencyWriteIsOutput() throws {
        let h = try Harness(size: (columns: 80, rows: 24))
        #expect(h.device.deviceID == 3 && h.device.queueMaxSizes.count == 2)
        #expect(h.device.deviceFeatures == VirtioConsole.featureSize | VirtioConsole.featureEmergencyWrite)
        #expect(h.device.configRead(offset: 0, size: 2) == 80)
        #expect(h.device.configRead(offset: 2, size: 2) == 24)
        #expect(h.device.configRead(offset: 0, size: 4) == 24 << 16 | 80)
        #expect(h.device.configRead(offset: 4, size: 4) == 0)  // max_nr_ports: no MULTIPORT
        #expect(h.device.configRead(offset: 12, size: 4) == 0 && h.device.configRead(offset: 100, size: 1) == 0)
        #expect(h.device.resize(columns: 132, rows: 50))
        #expect(h.device.configRead(offset: 0, size: 4) == 50 << 16 | 132)

        h.device.configWrite(offset: 8, size: 4, value: 0x21)
        h.device.configWrite(offset: 0, size: 2, value: 0x22)  // cols is read-only
        #expect(h.output.recorded == [0x21])
        #expect(h.device.configRead(offset: 0, size: 2) == 132)

        let plain = try Harness()
        #expect(plain.device.deviceFeatures & VirtioConsole.featureSize == 0)
        #expect(plain.device.resize(columns: 1, rows: 1) == false)
        #expect(plain.device.configRead(offset: 0, size: 4) == 0)
    }

    @Test func resetDropsTheQueues() throws {
        let h = try Harness()
        try h.receiveDriver.addChain(writable: [F.buffer(0x10000, 4)])
        _ = try h.device.process(queue: VirtioConsole.receiveQueue)
        h.device.reset()
        #expect(h.device.hasReceiveBuffers == false)
        #expect(try h.device.receive([1]).accepted == 0)
        #expect(try h.device.process(queue: VirtioConsole.transmitQueue) == false)
        #expect(throws: VirtioDeviceError.queueCount(device: "console", expected: 2, got: 1)) {
            try h.device.activate(features: 0, queues: [h.fixture.queues[0]])
        }
    }
}
