import SwiftletDevices
import SwiftletMemory
import SwiftletTestSupport

/// One megabyte of guest RAM with a mock driver at 0x1000 and a device queue on its rings.
struct VirtqueueFixture {
    static let ramSize: UInt64 = 0x10_0000
    let memory: GuestMemory
    let driver: VirtqueueDriver
    let queue: Virtqueue

    init(size: UInt16 = 16, eventIndex: Bool = false, indirect: Bool = false, startIndex: UInt16 = 0) throws {
        memory = try GuestMemory(ranges: [(0, Self.ramSize)])
        driver = try VirtqueueDriver(
            memory: memory, size: size, at: GuestAddress(0x1000), eventIndex: eventIndex,
            indirectDescriptors: indirect, startIndex: startIndex)
        queue = try Virtqueue(
            memory: memory, configuration: driver.configuration,
            nextAvailIndex: startIndex, nextUsedIndex: startIndex)
    }

    static func buffer(_ address: UInt64, _ length: UInt32) -> DescriptorChain.Buffer {
        DescriptorChain.Buffer(address: GuestAddress(address), length: length)
    }
}
