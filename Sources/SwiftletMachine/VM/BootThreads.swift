import Synchronization
import SwiftletHost

/// The threads one boot runs on: one per vCPU, each in its `VCPURunner`, and the device
/// thread serving the event loop, all behind the VM's pause gate.
///
/// Pausing rings the gate for all of them: vCPUs are pulled out of KVM_RUN (immediate_exit
/// for one about to enter, the kick signal for one inside) and park before entering again;
/// the device thread parks when the pause doorbell's handler runs, which is after the
/// handler it was in, so no device is half-way through a request.
final class BootThreads<VCPU: HypervisorVCPU>: @unchecked Sendable {
    // @unchecked: `loopThread` is written by `start` and read by `stop`, both on the
    // thread that owns the boot; `running` is behind a Mutex (a pause from the API
    // thread reads it); the rest never changes.
    private let vcpus: [VCPU]
    private let makeRunner: (VCPU) -> VCPURunner<VCPU>
    private let loop: EventLoop
    private let gate: PauseGate
    private let control: RunControl
    private let pauseDoorbell: EventFD
    /// How a vCPU thread is pulled out of a blocking KVM_RUN: a signal whose handler does
    /// nothing (HostSignals.kick); tests whose fakes return on `requestExit` pass nothing.
    private let kickSignal: Int32?
    /// Whether each thread installs its seccomp filter first (off for in-process tests).
    private let seccomp: Bool
    private let running = Mutex<[(VCPU, HostThread)]>([])
    private var loopThread: HostThread?

    init(vcpus: [VCPU], loop: EventLoop, gate: PauseGate, control: RunControl, kickSignal: Int32? = HostSignals.kick,
         seccomp: Bool = false, makeRunner: @escaping (VCPU) -> VCPURunner<VCPU>) throws(HostError) {
        self.seccomp = seccomp
        self.vcpus = vcpus
        self.loop = loop
        self.gate = gate
        self.control = control
        self.kickSignal = kickSignal
        self.makeRunner = makeRunner
        pauseDoorbell = try EventFD()
        try loop.add(pauseDoorbell.descriptor) { [pauseDoorbell, gate] in
            _ = pauseDoorbell.drain()
            gate.checkpoint()
        }
    }

    /// Starts every vCPU and the device thread. One that cannot start ends the run.
    func start() {
        gate.join(vcpus.count + 1)
        for vcpu in vcpus {
            let runner = makeRunner(vcpu)
            let thread = HostThread { [gate, control, seccomp] in
                if Self.filter(.vcpu, if: seccomp, control: control) { runner.run() }
                gate.leave()
            }
            if thread.start() {
                running.withLock { $0.append((vcpu, thread)) }
            } else {
                gate.leave()
                control.finish(.failure("cannot start a thread for vCPU \(vcpu.id)"))
            }
        }
        let thread = HostThread { [loop, gate, control, seccomp] in
            if Self.filter(.device, if: seccomp, control: control) { loop.run() }
            gate.leave()
        }
        if thread.start() {
            loopThread = thread
        } else {
            gate.leave()
            control.finish(.failure("cannot start the device I/O thread"))
        }
    }

    /// Installs the calling thread's seccomp filter when asked; false (the run ended with
    /// the reason) when it cannot be installed: no thread runs unfiltered by accident.
    private static func filter(_ kind: SeccompFilter.ThreadKind, if wanted: Bool, control: RunControl) -> Bool {
        guard wanted else { return true }
        do {
            try SeccompFilter.enter(kind)
            return true
        } catch {
            control.finish(.failure("cannot install the \(kind.rawValue) thread's seccomp filter: \(error)"))
            return false
        }
    }

    /// Parks every thread; returns once none is in KVM_RUN or a device handler. False
    /// when the boot ended first.
    func pause() -> Bool {
        gate.pause { kick() }
    }

    func resume() { gate.resume() }

    /// After the run has its outcome: lets parked threads go, pulls every vCPU out of the
    /// guest, and waits for all the threads to end.
    func stop() {
        gate.release()
        kick()
        for (_, thread) in running.withLock({ $0 }) { thread.join() }
        running.withLock { $0 = [] }
        loop.stop()
        loopThread?.join()
        loopThread = nil
    }

    func kick() {
        for (vcpu, thread) in running.withLock({ $0 }) {
            vcpu.requestExit()
            if let kickSignal { thread.signal(kickSignal) }
        }
        pauseDoorbell.signal()
    }
}
