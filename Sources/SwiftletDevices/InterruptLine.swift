/// A wire from a device to the guest's interrupt controller.
///
/// Devices are handed one at construction and never learn what is behind it: in the VMM
/// it is KVM's in-kernel IOAPIC/PIC (KVM_IRQ_LINE) or an irqfd, in tests a counter.
public protocol InterruptLine: AnyObject, Sendable {
    /// Drives the line high (an interrupt is pending) or low. Repeating a level is harmless.
    func set(level: Bool)
}

/// What a device may ask of the whole machine.
public enum MachineRequest: Sendable, Equatable {
    /// ACPI S5: the guest is done; swiftlet exits 0.
    case powerOff
    /// A platform reset (ACPI reset register, i8042 pulse): start the guest again.
    case reset
}

/// Where devices send `MachineRequest`s. The machine acts on them once the vCPUs stop.
public protocol MachineControl: AnyObject, Sendable {
    func request(_ request: MachineRequest)
}
