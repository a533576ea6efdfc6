import Logging
import Testing
import SwiftletDevices
import SwiftletKVM
import SwiftletMemory
@testable import SwiftletMachine

/// The exit dispatch, driven by a scripted vCPU: each exit reaches the right device or
/// ends the run with the right outcome.
@Suite struct VCPURunnerTests {
    let memory: GuestMemory
    let ports = Bus()
    let mmio = Bus()
    let control = RunControl()
    let gate = PauseGate()

    init() throws {
        memory = try GuestMemory(ranges: [(0, 0x10_0000)])
    }

    /// Runs `script` to its end (the last exit must end the run) and returns the vCPU.
    func run(_ script: [VcpuExit], setUp: (FakeVCPU) -> Void = { _ in }) -> FakeVCPU {
        let vcpu = FakeVCPU(script: script)
        setUp(vcpu)
        VCPURunner(vcpu: vcpu, memory: memory, ports: ports, mmio: mmio, control: control, gate: gate,
                   logger: Logger(label: "test")).run()
        return vcpu
    }

    @Test func portAndMMIOAccessesReachTheirDevices() throws {
        let uart = RecordingDevice(value: 0x5A)
        let window = RecordingDevice(value: 0x1122_3344)
        try ports.insert(uart, at: 0x3F8, size: 8, name: "uart")
        try mmio.insert(window, at: 0xD000_0000, size: 0x1000, name: "window")
        let vcpu = run([
            .portOut(port: 0x3F9, size: 1, count: 2),
            .portIn(port: 0x3FD, size: 1, count: 3),
            .mmioWrite(address: 0xD000_0010, size: 4, value: 0xCAFE),
            .mmioRead(address: 0xD000_0020, size: 4),
            .systemEvent(1),
        ]) { $0.portOutValues = [7, 8] }
        #expect(uart.writes.map(\.offset) == [1, 1])
        #expect(uart.writes.map(\.value) == [7, 8])
        #expect(vcpu.answers.port == [0x5A, 0x5A, 0x5A])
        #expect(window.writes.map(\.offset) == [0x10])
        #expect(window.writes.map(\.value) == [0xCAFE])
        #expect(vcpu.answers.mmio == [0x1122_3344])
        #expect(control.wait() == .powerOff)
    }

    @Test(arguments: [
        (VcpuExit.systemEvent(2), RunOutcome.reset),
        (.shutdown, .failure("vCPU 0: the guest triple-faulted at RIP 0x1234")),
        (.systemEvent(9), .failure("vCPU 0: KVM system event 9 at RIP 0x1234")),
        (.internalError(suberror: 3), .failure("vCPU 0: KVM internal error (suberror 3) at RIP 0x1234")),
        (.failedEntry(reason: 0x21), .failure("vCPU 0: KVM could not enter the guest (hardware reason 0x21) at RIP 0x1234")),
        (.unhandled(reason: 99), .failure("vCPU 0: unexpected KVM exit reason 99 at RIP 0x1234")),
    ])
    func exitsThatEndTheRun(exit: VcpuExit, outcome: RunOutcome) {
        let vcpu = run([exit])
        #expect(control.wait() == outcome)
        #expect(vcpu.entryCount == 1)
    }

    @Test func anEmulationGapIsCompletedOrEndsTheRun() {
        let vcpu = run([.internalError(suberror: 1), .internalError(suberror: 1), .systemEvent(1)]) { vcpu in
            vcpu.emulationGap = .completed("INT3")
        }
        // Completed gaps let the vCPU run on to the power-off.
        #expect(vcpu.entryCount == 3)
        #expect(control.wait() == .powerOff)
        let failing = FakeVCPU(script: [.internalError(suberror: 1)])
        failing.emulationGap = .unsupported("vCPU 0: KVM cannot emulate 0f 0b")
        let other = RunControl()
        VCPURunner(vcpu: failing, memory: memory, ports: ports, mmio: mmio, control: other, gate: gate,
                   logger: Logger(label: "test")).run()
        #expect(other.wait() == .failure("vCPU 0: KVM cannot emulate 0f 0b"))
    }
}
