import Synchronization
import Testing
import SwiftletDevices

/// Once a ring breaks, the device needs a reset (virtio 1.2 section 2.1.2): neither the
/// driver's kicks nor host input reach the core until it gets one, so no source that keeps
/// firing (a readable tap, a doorbell) can make the device fail again and again.
@Suite struct TransportedDeviceFailureTests {
    func activated(_ core: ScriptedCore, _ interrupt: RecordingInterrupt) throws -> TransportedDevice<ScriptedCore> {
        let f = try VirtqueueFixture(size: 4)
        let device = TransportedDevice(core)
        try device.activate(VirtioActivation(memory: f.memory, features: 0, queues: [f.queue], interrupt: interrupt))
        return device
    }

    @Test func aFailedDeviceHearsNoKickUntilReset() throws {
        let core = ScriptedCore(), interrupt = RecordingInterrupt()
        let device = try activated(core, interrupt)
        let callsAtStart = core.calls  // activation looked at the queue once
        core.breaks = true
        device.queueNotified(0)
        #expect(core.calls == callsAtStart + 1)
        #expect(interrupt.needsReset == 1)
        device.queueNotified(0)
        #expect(core.calls == callsAtStart + 1)
        #expect(interrupt.needsReset == 1)

        device.reset()
        core.breaks = false
        let f = try VirtqueueFixture(size: 4)
        try device.activate(VirtioActivation(memory: f.memory, features: 0, queues: [f.queue], interrupt: interrupt))
        let callsAfterReset = core.calls
        core.wantsInterrupt = true
        device.queueNotified(0)
        #expect(core.calls == callsAfterReset + 1)
        #expect(interrupt.used == [0])
    }

    @Test func hostInputReachesOnlyARunningDevice() throws {
        let core = ScriptedCore(), interrupt = RecordingInterrupt()
        let idle = TransportedDevice(core)
        #expect(idle.withRunningCore(interrupting: 0) { _ in (1, interrupt: false) } == nil)  // before DRIVER_OK

        let device = try activated(core, interrupt)
        #expect(device.withRunningCore(interrupting: 0) { _ in (7, interrupt: true) } == 7)
        #expect(interrupt.used == [0])

        // Host input meets the broken ring: the device fails as a kick's failure would.
        let result: Int? = device.withRunningCore(interrupting: 0) { core throws(VirtqueueError) in
            core.breaks = true
            _ = try core.process(queue: 0)
            return (1, interrupt: true)
        }
        #expect(result == nil)
        #expect(interrupt.needsReset == 1)
        var ran = false
        #expect(device.withRunningCore(interrupting: 0) { _ in ran = true; return (1, interrupt: true) } == nil)
        #expect(!ran)
        let calls = core.calls
        device.queueNotified(0)
        #expect(core.calls == calls)
        #expect(interrupt.used == [0])
    }

    /// Console keystrokes are host input too: a broken receive ring takes them once, fails
    /// the device, and is not read again for the next ones.
    @Test func consoleInputStopsAtABrokenReceiveRing() throws {
        let f = try VirtioDeviceFixture(queues: 2)
        let interrupt = RecordingInterrupt()
        let device = TransportedDevice(VirtioConsole(output: { _ in }))
        try device.activate(VirtioActivation(memory: f.memory, features: 0, queues: f.queues, interrupt: interrupt))
        let rx = f.drivers[VirtioConsole.receiveQueue]
        try rx.addChain(writable: [VirtioDeviceFixture.buffer(0x40000, 64)])
        func type(_ text: String) -> Int? {
            device.withRunningCore(interrupting: VirtioConsole.receiveQueue) { core throws(VirtqueueError) in
                let (accepted, needsInterrupt) = try core.receive(Array(text.utf8))
                return (accepted, interrupt: needsInterrupt)
            }
        }
        #expect(type("ok") == 2)
        #expect(!device.needsReset)
        try rx.setAvailIndex(rx.publishedAvailIndex &+ rx.size &+ 1)
        #expect(type("lost") == nil)
        #expect(device.needsReset)
        #expect(interrupt.needsReset == 1)
        #expect(type("also lost") == nil)
        #expect(interrupt.needsReset == 1)  // the ring was not looked at again
        device.reset()
        #expect(!device.needsReset)
    }
}

/// Counts interrupts by kind.
final class RecordingInterrupt: VirtioInterrupt {
    private let state = Mutex((used: [Int](), needsReset: 0))
    var used: [Int] { state.withLock { $0.used } }
    var needsReset: Int { state.withLock { $0.needsReset } }
    func signalUsed(queue: Int) { state.withLock { $0.used.append(queue) } }
    func signalConfigChange() {}
    func signalNeedsReset() { state.withLock { $0.needsReset += 1 } }
}

/// A one-queue core whose ring is broken when the test says so.
final class ScriptedCore: VirtioDeviceCore, @unchecked Sendable {
    var breaks = false
    var wantsInterrupt = false
    private(set) var calls = 0

    var deviceID: UInt16 { 4 }
    var queueMaxSizes: [UInt16] { [4] }
    var deviceFeatures: UInt64 { 0 }
    func configRead(offset: Int, size: Int) -> UInt64 { 0 }
    func configWrite(offset: Int, size: Int, value: UInt64) {}
    func activate(features: UInt64, queues: [Virtqueue]) throws(VirtioDeviceError) {}
    func reset() {}

    func process(queue index: Int) throws(VirtqueueError) -> Bool {
        calls += 1
        if breaks { throw .availIndexJump(availIndex: 9, lastSeen: 0, size: 4) }
        return wantsInterrupt
    }
}
