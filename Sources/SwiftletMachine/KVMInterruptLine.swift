import SwiftletDevices
import SwiftletKVM

/// An interrupt line of KVM's in-kernel PIC and IOAPIC, driven with KVM_IRQ_LINE.
///
/// Legacy devices keep their line high while they have an interrupt pending and low
/// otherwise, as the real wire is: KVM turns the rising edge into an interrupt on an
/// edge-triggered ISA pin, and a level-triggered one is re-raised until it is serviced.
final class KVMInterruptLine: InterruptLine {
    let vm: VirtualMachine
    let gsi: UInt32
    let onError: @Sendable (KVMError) -> Void

    init(vm: VirtualMachine, gsi: UInt32, onError: @escaping @Sendable (KVMError) -> Void) {
        self.vm = vm
        self.gsi = gsi
        self.onError = onError
    }

    func set(level: Bool) {
        do { try vm.setIRQLine(gsi, level: level) } catch { onError(error) }
    }
}
