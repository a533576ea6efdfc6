import Testing
import SwiftletDevices
import SwiftletMemory
import SwiftletTestSupport

@Suite struct VirtioRngTests {
    typealias F = VirtioDeviceFixture

    private func activated(_ device: VirtioRng) throws -> F {
        let f = try F(queues: 1)
        try device.activate(features: 0, queues: f.queues)
        return f
    }

    @Test func fillsWritableBuffersWithRandomBytes() throws {
        let device = try VirtioRng()
        let f = try activated(device)
        try f.drivers[0].addChain(writable: [F.buffer(0x10000, 200), F.buffer(0x20000, 56)])
        #expect(try device.process(queue: 0))
        #expect(try f.drivers[0].popUsed()?.length == 256)
        let bytes = try f.memory.readBytes(at: GuestAddress(0x10000), count: 200)
            + f.memory.readBytes(at: GuestAddress(0x20000), count: 56)
        #expect(Set(bytes).count > 1)  // 256 equal random bytes: chance 2^-2040
    }

    @Test func bytesComeFromTheSource() throws {
        let file = try TemporaryFile(bytes: Array(0..<100))
        let device = try VirtioRng(sourcePath: file.path)
        let f = try activated(device)
        try f.drivers[0].addChain(writable: [F.buffer(0x10000, 10)])
        _ = try device.process(queue: 0)
        #expect(try f.memory.readBytes(at: GuestAddress(0x10000), count: 10) == Array(0..<10))
        // A source that runs dry answers with what it had.
        try f.drivers[0].addChain(writable: [F.buffer(0x10000, 200)])
        _ = try device.process(queue: 0)
        #expect(try f.drivers[0].popUsed()?.length == 10)
        #expect(try f.drivers[0].popUsed()?.length == 90)
    }

    @Test func eachRequestIsCapped() throws {
        let device = try VirtioRng()
        let f = try activated(device)
        let length = 0x20000
        try f.memory.fill(0xEE, at: GuestAddress(0x40000), count: UInt64(length))
        try f.drivers[0].addChain(writable: [F.buffer(0x40000, UInt32(length))])
        _ = try device.process(queue: 0)
        #expect(try f.drivers[0].popUsed()?.length == UInt32(VirtioRng.maxBytesPerRequest))
        let past = try f.memory.readBytes(
            at: GuestAddress(0x40000 + UInt64(VirtioRng.maxBytesPerRequest)),
            count: length - VirtioRng.maxBytesPerRequest)
        #expect(past.allSatisfy { $0 == 0xEE })  // untouched past the cap
    }

    @Test func readOnlyChainGetsNothing() throws {
        let device = try VirtioRng()
        let f = try activated(device)
        try f.drivers[0].addChain(readable: [F.buffer(0x10000, 16)])
        _ = try device.process(queue: 0)
        #expect(try f.drivers[0].popUsed()?.length == 0)
    }

    @Test func identityAndErrors() throws {
        let device = try VirtioRng()
        #expect(device.deviceID == 4 && device.deviceFeatures == 0 && device.queueMaxSizes.count == 1)
        #expect(device.configRead(offset: 0, size: 8) == 0)
        #expect(try device.process(queue: 0) == false)  // not activated
        #expect(throws: VirtioRngError.self) { try VirtioRng(sourcePath: "/nonexistent/random") }
        #expect(throws: VirtioDeviceError.queueCount(device: "entropy", expected: 1, got: 2)) {
            let f = try F(queues: 2)
            try device.activate(features: 0, queues: f.queues)
        }
    }
}
