import Testing
import SwiftletDevices
import SwiftletMemory
import SwiftletTestSupport

@Suite struct VirtqueueStateTests {
    typealias F = VirtqueueFixture

    /// A queue rebuilt from another's state, on the same RAM, carries on where the first
    /// stopped: the next chain it pops is the one the first had not reached, and its used
    /// entries land after the first's.
    @Test func aRestoredQueueContinuesWhereTheFirstStopped() throws {
        let f = try F(size: 4, eventIndex: true, startIndex: 0xfffe)
        try f.driver.setUsedEvent(0x0000)
        for _ in 0..<3 { try f.driver.addChain(writable: [F.buffer(0x20000, 4)], publish: false) }
        try f.driver.publish()
        let first = try #require(try f.queue.popChain())
        try f.queue.addUsed(first, writtenLength: 4)  // used idx 0xffff
        #expect(try !f.queue.needsNotification())

        let state = f.queue.state
        #expect(state.nextAvailIndex == 0xffff && state.nextUsedIndex == 0xffff)
        let restored = try Virtqueue(memory: f.memory, state: state)
        #expect(restored.state == state)

        let second = try #require(try restored.popChain())
        #expect(second.head != first.head)
        try restored.addUsed(second, writtenLength: 4)  // used idx 0x0000: reaches the event, not past it
        #expect(try !restored.needsNotification())
        let third = try #require(try restored.popChain())
        try restored.addUsed(third, writtenLength: 4)  // 0x0001: passes used_event 0
        #expect(try restored.needsNotification())
        #expect(try restored.popChain() == nil)
        #expect(f.driver.usedIndex() == 0x0001)
    }

    /// A state file is input: a ring address outside RAM is refused as a driver's would be.
    @Test func aStateOutsideRAMIsRefused() throws {
        let f = try F()
        var state = f.queue.state
        state.configuration.usedRing = GuestAddress(F.ramSize)
        #expect(throws: VirtqueueError.self) { try Virtqueue(memory: f.memory, state: state) }
        state = f.queue.state
        state.configuration.size = 3
        #expect(throws: VirtqueueError.invalidQueueSize(3)) { try Virtqueue(memory: f.memory, state: state) }
    }
}
