import Testing
import SwiftletDevices
import SwiftletMemory
import SwiftletTestSupport

/// A PCI virtio function saved mid-run and restored into a freshly built one on the same
/// RAM (as a restore maps the memory file): registers, MSI-X, BARs and queue positions
/// come back, and the device restarts on queues that continue where they were.
@Suite struct VirtioTransportSnapshotTests {
    typealias F = VirtioTransportFixture

    /// A running fixture whose device has consumed and returned two chains on queue 0.
    private func runningFixture() throws -> F {
        let f = try F()
        f.bringUp()
        _ = f.transport.configWrite(offset: PCIConfigurationSpace.barOffset, size: 4, value: 0xE000_0000)
        let queue = try #require(f.device.activations.last?.queues[0])
        for _ in 0..<2 {
            try f.rings[0].addChain(writable: [DescriptorChain.Buffer(address: GuestAddress(0x20000), length: 8)])
            let chain = try #require(try queue.popChain())
            try queue.addUsed(chain, writtenLength: 8)
        }
        return f
    }

    @Test func aRestoredFunctionContinuesWhereTheFirstStopped() throws {
        let f = try runningFixture()
        let saved = f.transport.saveState()
        #expect(saved.transport.live)
        #expect(saved.transport.queuePositions[0]?.nextAvailIndex == 2)
        #expect(saved.transport.queuePositions[0]?.nextUsedIndex == 2)

        let device = FakeVirtioDevice()
        let recorder = PCIMSIRecorder()
        let restored = try VirtioPCIDevice(device: device, memory: f.memory, msiDelivery: recorder)
        try restored.restoreState(saved)

        #expect(restored.saveState() == saved)
        #expect(restored.status == f.transport.status)
        #expect(restored.driverFeatures == f.transport.driverFeatures)
        #expect(restored.configuration.barAddress(0) == 0xE000_0000)
        #expect(restored.msix.isEnabled)
        // Each programmed vector was reported, so the machine reinstalls its MSI route.
        for vector in 0..<3 {
            #expect(recorder.route(vector) == PCIMSIRecorder.Route(address: 0xFEE0_0000, data: UInt32(0x20 + vector), masked: false))
        }
        // The device was restarted once, on a queue at the saved position.
        #expect(device.activations.count == 1)
        let queue = try #require(device.activations.first?.queues[0])
        try f.rings[0].addChain(writable: [DescriptorChain.Buffer(address: GuestAddress(0x20000), length: 8)])
        let chain = try #require(try queue.popChain())
        try queue.addUsed(chain, writtenLength: 8)
        #expect(try queue.popChain() == nil)
        #expect(f.rings[0].usedIndex() == 3)
        // Kicks reach the restored device.
        VirtioPCIDriver(device: restored).notify(queue: 0)
        #expect(device.notified == [0])
        // The machine's kick after a restore reaches every enabled queue once.
        restored.kickQueuesAfterRestore()
        #expect(device.notified == [0, 0, 1])
    }

    @Test func aStoppedFunctionIsRestoredWithoutStartingIt() throws {
        let f = try F()
        f.negotiate(F.version1)
        let saved = f.transport.saveState()
        #expect(!saved.transport.live && saved.transport.queuePositions.isEmpty)
        let device = FakeVirtioDevice()
        let restored = try VirtioPCIDevice(device: device, memory: f.memory, msiDelivery: PCIMSIRecorder())
        try restored.restoreState(saved)
        #expect(device.activations.isEmpty)
        restored.kickQueuesAfterRestore()
        #expect(device.notified.isEmpty)
        #expect(restored.status == f.transport.status)
    }

    @Test func stateThatDoesNotFitTheDeviceIsRefused() throws {
        let f = try runningFixture()
        let saved = f.transport.saveState()
        func restore(_ state: VirtioPCIState, into device: FakeVirtioDevice = FakeVirtioDevice()) throws {
            let fresh = try VirtioPCIDevice(device: device, memory: f.memory, msiDelivery: PCIMSIRecorder())
            try fresh.restoreState(state)
        }
        // Another device with one queue fewer.
        #expect(throws: VirtioTransportError.self) { try restore(saved, into: FakeVirtioDevice(queueMaxSizes: [16])) }
        var state = saved
        state.transport.queues[0].size = 32  // above the queue's maximum
        #expect(throws: VirtioTransportError.self) { try restore(state) }
        state = saved
        state.transport.driverFeatures |= 1 << 40  // never offered
        #expect(throws: VirtioTransportError.self) { try restore(state) }
        state = saved
        state.transport.queuePositions[0]?.configuration.usedRing = GuestAddress(0x10_0000)  // not the registers'
        #expect(throws: VirtioTransportError.self) { try restore(state) }
        state = saved
        state.configuration.removeLast()
        #expect(throws: VirtioTransportError.self) { try restore(state) }
        state = saved
        state.msix.pending.removeLast()
        #expect(throws: VirtioTransportError.self) { try restore(state) }
    }
}
