#if canImport(Glibc)
import Glibc
#endif
import Logging
import Testing
import SwiftletDevices
import SwiftletHost
import SwiftletMemory
@testable import SwiftletMachine

/// Pausing and stopping a boot's threads, with fake vCPUs that sit "in the guest" until
/// kicked: pause returns only when no vCPU is inside KVM_RUN and the device thread is
/// parked, nothing enters the guest while paused, and a stop ends a paused boot.
@Suite struct BootThreadsTests {
    let memory: GuestMemory
    let control = RunControl()
    let gate = PauseGate()
    let loop: EventLoop
    let vcpus = [FakeVCPU(id: 0), FakeVCPU(id: 1)]
    let threads: BootThreads<FakeVCPU>

    init() throws {
        memory = try GuestMemory(ranges: [(0, 0x10_0000)])
        loop = try EventLoop()
        let (memory, control, gate) = (memory, control, gate)
        threads = try BootThreads(vcpus: vcpus, loop: loop, gate: gate, control: control, kickSignal: nil) { vcpu in
            VCPURunner(vcpu: vcpu, memory: memory, ports: Bus(), mmio: Bus(), control: control, gate: gate,
                       logger: Logger(label: "test"))
        }
    }

    @Test func pauseParksEveryThreadOutsideTheGuestAndResumeLetsThemOn() {
        threads.start()
        for vcpu in vcpus { vcpu.waitForEntries(moreThan: 0) }

        #expect(threads.pause())
        // Two vCPUs and the device thread.
        #expect(gate.parkedCount == 3)
        #expect(vcpus.allSatisfy { !$0.isInsideRun })
        let entries = vcpus.map(\.entryCount)
        // A kick that comes while paused (a stray signal, say) must not let anyone in.
        for vcpu in vcpus { vcpu.requestExit() }
        usleep(50_000)
        #expect(vcpus.map(\.entryCount) == entries)

        threads.resume()
        for (vcpu, count) in zip(vcpus, entries) { vcpu.waitForEntries(moreThan: count) }

        control.finish(.powerOff)
        threads.stop()
        #expect(gate.parkedCount == 0)
    }

    @Test func aStopEndsAPausedBoot() {
        threads.start()
        for vcpu in vcpus { vcpu.waitForEntries(moreThan: 0) }
        #expect(threads.pause())
        control.finish(.signal(SIGTERM))
        threads.stop()  // returns: every thread ended although the gate was closed
        #expect(control.wait() == .signal(SIGTERM))
        #expect(vcpus.allSatisfy { !$0.isInsideRun })
    }

    @Test func aPauseAskedBeforeTheThreadsStartHoldsThemAtTheirFirstCheckpoint() {
        // Between two boots (a guest reset) the gate has no participants: pause returns at
        // once, and the next boot's vCPUs never enter the guest until resume.
        #expect(gate.pause {})
        threads.start()
        #expect(threads.pause())
        #expect(vcpus.map(\.entryCount) == [0, 0])
        threads.resume()
        for vcpu in vcpus { vcpu.waitForEntries(moreThan: 0) }
        control.finish(.powerOff)
        threads.stop()
    }
}
