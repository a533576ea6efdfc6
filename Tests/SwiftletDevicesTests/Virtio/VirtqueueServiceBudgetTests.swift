import Synchronization
import Testing
@testable import SwiftletDevices
import SwiftletMemory
import SwiftletTestSupport

/// One kick buys at most a ring's worth of chains (`Virtqueue.serviceAvailable`), however
/// the driver keeps the avail index moving while we work; work left over is reported so
/// the device is kicked again, not dropped.
@Suite struct VirtqueueServiceBudgetTests {
    /// A hostile ring: queue size 1 with the used element's `len` lying on the avail idx,
    /// so every chain we return publishes another one.
    @Test func usedRingOverAvailIndexCostsOneRingPerPass() throws {
        let memory = try GuestMemory(ranges: [(0, 0x10_0000)])
        let usedRing = GuestAddress(0x3000)  // flags, idx, elem[0] = {id u32 at +4, len u32 at +8}
        let availRing = GuestAddress(0x3006)  // flags at +0 (= id's high half), idx at +2 (= len)
        let configuration = VirtqueueConfiguration(
            size: 1, descriptorTable: GuestAddress(0x2000), availRing: availRing, usedRing: usedRing)
        let queue = try Virtqueue(memory: memory, configuration: configuration)
        let driver = try VirtqueueDriver(memory: memory, configuration: configuration)
        try driver.writeDescriptor(0, address: 0x10000, length: 16, flags: VirtqueueDriver.flagWrite, next: 0)
        try driver.pushAvail(head: 0)
        try driver.publish()

        // Each returned length is the next avail idx: one more chain, up to idx 1000.
        var handled = 0
        let handle = { (_: DescriptorChain) throws(VirtqueueError) -> UInt32 in
            handled += 1
            return UInt32(min(handled + 1, 1000))
        }
        _ = try queue.serviceAvailable(handle)
        #expect(handled == 1)
        #expect(queue.serviceUnfinished)
        // The next pass (the device's re-kick) takes one more, and so on: never more.
        _ = try queue.serviceAvailable(handle)
        #expect(handled == 2)
        #expect(queue.serviceUnfinished)
    }

    /// An honest but busy driver refilling the ring from another vCPU as fast as we
    /// return chains: each pass takes at most `size`, and every chain is served in the end.
    @Test func busyDriverIsServedInRingSizedPasses() throws {
        let f = try VirtqueueFixture(size: 4)
        for index in 0..<4 { try f.driver.addChain(writable: [VirtqueueFixture.buffer(0x10000 + 0x100 * UInt64(index), 8)]) }
        var handled = 0
        let handle = { (chain: DescriptorChain) throws(VirtqueueError) -> UInt32 in
            handled += 1
            if handled <= 100 {
                // The driver publishes the chain again before we even returned it.
                do { try f.driver.pushAvail(head: chain.head); try f.driver.publish() } catch { return 0 }
            }
            return 8
        }
        var passes = 0
        repeat {
            let before = handled
            _ = try f.queue.serviceAvailable(handle)
            #expect(handled - before <= 4)
            passes += 1
        } while f.queue.serviceUnfinished && passes < 1000
        #expect(handled == 104)
        #expect(passes == 26)
        #expect(f.driver.usedIndex() == 104)
    }

    /// TransportedDevice passes "work left" up, so the machine rings the doorbell again.
    @Test func transportedDeviceReportsWorkLeft() throws {
        let f = try VirtqueueFixture(size: 4)
        let core = RefillingCore(driver: f.driver)
        let device = TransportedDevice(core)
        try device.activate(VirtioActivation(
            memory: f.memory, features: 0, queues: [f.queue], interrupt: SilentInterrupt()))
        // activate looked at the (empty) queue once.
        for index in 0..<4 { try f.driver.addChain(writable: [VirtqueueFixture.buffer(0x10000 + 0x100 * UInt64(index), 8)]) }
        core.refills = 6
        #expect(device.queueNotified(0))  // 4 served, all republished: 4 waiting
        #expect(device.queueNotified(0))  // 4 served, 2 republished: 2 waiting
        #expect(!device.queueNotified(0))  // the last 2
        #expect(core.served == 10)
    }

    /// Chains left past the budget at DRIVER_OK (a vCPU thread) go to the doorbell.
    @Test func workLeftAtActivationRingsTheDoorbell() throws {
        let f = try VirtqueueFixture(size: 4)
        for index in 0..<4 { try f.driver.addChain(writable: [VirtqueueFixture.buffer(0x10000 + 0x100 * UInt64(index), 8)]) }
        let core = RefillingCore(driver: f.driver)
        core.refills = 2
        let rung = Mutex<[Int]>([])
        try TransportedDevice(core).activate(VirtioActivation(
            memory: f.memory, features: 0, queues: [f.queue], interrupt: SilentInterrupt(),
            doorbell: { index in rung.withLock { $0.append(index) } }))
        #expect(core.served == 4)
        #expect(rung.withLock { $0 } == [0])
    }
}

/// Interrupts nobody listens to.
private final class SilentInterrupt: VirtioInterrupt {
    func signalUsed(queue: Int) {}
    func signalConfigChange() {}
    func signalNeedsReset() {}
}

/// A one-queue device whose driver republishes each chain it is handed, `refills` times.
private final class RefillingCore: VirtioDeviceCore, @unchecked Sendable {
    let driver: VirtqueueDriver
    var queue: Virtqueue?
    var refills = 0
    var served = 0

    init(driver: VirtqueueDriver) { self.driver = driver }

    var deviceID: UInt16 { 4 }
    var queueMaxSizes: [UInt16] { [4] }
    var deviceFeatures: UInt64 { 0 }
    func configRead(offset: Int, size: Int) -> UInt64 { 0 }
    func configWrite(offset: Int, size: Int, value: UInt64) {}
    func activate(features: UInt64, queues: [Virtqueue]) throws(VirtioDeviceError) { queue = queues.first }
    func reset() { queue = nil }

    func process(queue index: Int) throws(VirtqueueError) -> Bool {
        guard let queue else { return false }
        return try queue.serviceAvailable { (chain) throws(VirtqueueError) in
            served += 1
            if refills > 0 {
                refills -= 1
                do { try driver.pushAvail(head: chain.head); try driver.publish() } catch { return 0 }
            }
            return 0
        }
    }
}
