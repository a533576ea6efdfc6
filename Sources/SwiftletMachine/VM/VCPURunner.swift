import Logging
import SwiftletDevices
import SwiftletKVM
import SwiftletMemory

/// The loop each vCPU thread runs: stop at the pause gate if the VM is pausing, enter the
/// guest, serve what made it exit, repeat until the run has an outcome. This is where
/// port and MMIO accesses meet the devices.
struct VCPURunner<VCPU: HypervisorVCPU>: Sendable {
    let vcpu: VCPU
    let memory: GuestMemory
    let ports: Bus
    let mmio: Bus
    let control: RunControl
    let gate: PauseGate
    let logger: Logger

    func run() {
        while true {
            gate.checkpoint()
            if control.isFinished { return }
            let exit: VcpuExit
            do {
                exit = try vcpu.runOnce()
            } catch {
                control.finish(.failure(error.description))
                return
            }
            handle(exit)
        }
    }

    func handle(_ exit: VcpuExit) {
        switch exit {
        case .portIn(let port, let size, let count):
            for i in 0..<count {
                vcpu.completePortIn(at: i, size: size, value: ports.read(at: UInt64(port), size: size))
            }
        case .portOut(let port, let size, let count):
            for i in 0..<count {
                ports.write(at: UInt64(port), size: size, value: vcpu.portOutValue(at: i, size: size))
            }
        case .mmioRead(let address, let size):
            vcpu.completeMMIORead(size: size, value: mmio.read(at: address, size: size))
        case .mmioWrite(let address, let size, let value):
            mmio.write(at: address, size: size, value: value)
        case .interrupted, .halt:
            // A kick (look at isFinished) or, without an in-kernel LAPIC, an idle CPU.
            break
        case .shutdown:
            control.finish(.failure("vCPU \(vcpu.id): the guest triple-faulted\(ripText)"))
        case .systemEvent(let type):
            switch type {
            case 1: control.request(.powerOff)   // KVM_SYSTEM_EVENT_SHUTDOWN
            case 2: control.request(.reset)      // KVM_SYSTEM_EVENT_RESET
            default: control.finish(.failure("vCPU \(vcpu.id): KVM system event \(type)\(ripText)"))
            }
        case .internalError(let suberror):
            if suberror == 1 {  // KVM_INTERNAL_ERROR_EMULATION
                switch vcpu.completeEmulationGap(memory: memory) {
                case .completed(let what): logger.trace("completed \(what) for KVM's emulator")
                case .unsupported(let line): control.finish(.failure(line))
                }
            } else {
                control.finish(.failure("vCPU \(vcpu.id): KVM internal error (suberror \(suberror))\(ripText)"))
            }
        case .failedEntry(let reason):
            control.finish(.failure("vCPU \(vcpu.id): KVM could not enter the guest (hardware reason 0x\(String(reason, radix: 16)))\(ripText)"))
        case .unhandled(let reason):
            control.finish(.failure("vCPU \(vcpu.id): unexpected KVM exit reason \(reason)\(ripText)"))
        }
    }

    private var ripText: String { vcpu.ripText }
}
