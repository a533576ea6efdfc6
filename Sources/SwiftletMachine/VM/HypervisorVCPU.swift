import SwiftletKVM
import SwiftletMemory

/// What the VM's logic needs of one vCPU: enter the guest, read and answer the exit, be
/// pulled out from another thread. KVM's `VirtualCPU` is the real one; tests drive the
/// exit dispatch, pausing and stopping with scripted fakes, no /dev/kvm needed (Cloud
/// Hypervisor keeps its hypervisor behind traits for the same reason).
public protocol HypervisorVCPU: AnyObject, Sendable {
    var id: Int { get }
    /// Enters the guest until something needs us.
    func runOnce() throws(KVMError) -> VcpuExit
    /// Item `index` of the current OUT exit.
    func portOutValue(at index: Int, size: Int) -> UInt64
    /// The answer to item `index` of the current IN exit.
    func completePortIn(at index: Int, size: Int, value: UInt64)
    /// The answer to the current MMIO read.
    func completeMMIORead(size: Int, value: UInt64)
    /// Makes the next (or current, once the thread is signalled) `runOnce` return. Any thread.
    func requestExit()
    /// Finishes an instruction KVM's emulator gave up on, or says why it cannot.
    func completeEmulationGap(memory: GuestMemory) -> EmulationGaps.Outcome
    /// " at RIP 0x...", or "" when the registers are out of reach: for failure lines.
    var ripText: String { get }
}

extension VirtualCPU: HypervisorVCPU {
    public func completeEmulationGap(memory: GuestMemory) -> EmulationGaps.Outcome {
        EmulationGaps(vcpu: self, memory: memory).complete()
    }

    public var ripText: String {
        guard let registers = try? registers() else { return "" }
        return " at RIP 0x" + String(registers.rip, radix: 16)
    }
}
