import SwiftletKVM
import SwiftletMemory

/// Finishing what KVM's instruction emulator gives up on.
///
/// Where KVM emulates guest ring 0 in software (PVM), some instructions stop the guest
/// with an emulation failure although a CPU would have handled them trivially. Linux
/// 6.1 runs INT3 at every boot (int3_selftest) and FWAIT when a kernel thread exits, so
/// we complete those two; any other failure ends the run with the instruction bytes.
public struct EmulationGaps {
    let vcpu: VirtualCPU
    let memory: GuestMemory

    public enum Outcome: Equatable, Sendable {
        case completed(String)
        case unsupported(String)
    }

    func complete() -> Outcome {
        do {
            var registers = try vcpu.registers()
            let control = try vcpu.controlState()
            let bytes = instructionBytes(at: registers.rip, control: control)
            let rip = "0x" + String(registers.rip, radix: 16)
            switch bytes.first {
            case 0xCC:
                // INT3 is a trap: #BP is delivered with RIP already past the instruction.
                registers.rip &+= 1
                try vcpu.setRegisters(registers)
                try vcpu.injectException(vector: 3)
                return .completed("INT3 at \(rip)")
            case 0x9B:
                // FWAIT only waits for pending x87 exceptions: with none (status word's ES
                // bit clear) it does nothing; with one, the CPU raises #MF.
                registers.rip &+= 1
                try vcpu.setRegisters(registers)
                if try vcpu.x87StatusWord() & 0x80 != 0 {
                    try vcpu.injectException(vector: 16)
                    return .completed("FWAIT with a pending x87 exception at \(rip) (#MF)")
                }
                return .completed("FWAIT at \(rip)")
            default:
                let shown = bytes.isEmpty ? "unreadable" : bytes.map { hex2($0) }.joined(separator: " ")
                return .unsupported("vCPU \(vcpu.id): KVM cannot emulate the instruction at RIP \(rip) (bytes: \(shown))")
            }
        } catch {
            return .unsupported("vCPU \(vcpu.id): emulation failure, and then \(error)")
        }
    }

    /// Up to 15 bytes (the longest x86 instruction) at guest-virtual `rip`, stopping at
    /// the end of its page since the next page may map elsewhere or nowhere.
    private func instructionBytes(at rip: UInt64, control: ControlState) -> [UInt8] {
        let pagingOn = control.cr0 & (1 << 31) != 0
        guard let physical = pagingOn ? (try? vcpu.translate(rip)) ?? nil : rip else { return [] }
        let toPageEnd = Int(0x1000 - (physical & 0xFFF))
        return (try? memory.readBytes(at: GuestAddress(physical), count: min(15, toPageEnd))) ?? []
    }
}

func hex2(_ byte: UInt8) -> String {
    let digits = String(byte, radix: 16)
    return digits.count == 1 ? "0" + digits : digits
}
