import CKVM

/// What KVM holds for the VM as a whole: the interrupt controllers and timer it emulates
/// in the kernel, and the kvmclock every vCPU's guest clock is read from.
public struct KVMVMSnapshot: Equatable, Sendable {
    /// kvm_irqchip for the master PIC, the slave PIC and the IOAPIC, chip ID included.
    public var picMaster: [UInt8]
    public var picSlave: [UInt8]
    public var ioapic: [UInt8]
    /// kvm_pit_state2.
    public var pit: [UInt8]
    /// kvmclock in nanoseconds, when the state was taken.
    public var clock: UInt64
    /// KVM_GET_CLOCK's flags (KVM_CLOCK_TSC_STABLE, KVM_CLOCK_REALTIME, ...).
    public var clockFlags: UInt32
    /// CLOCK_REALTIME in nanoseconds at the same moment: KVM's own reading where it gives
    /// one (KVM_CLOCK_REALTIME), else ours, taken right after KVM_GET_CLOCK. What a restore
    /// measures the elapsed time from, when asked to advance the clock.
    public var realtime: UInt64

    public init(picMaster: [UInt8], picSlave: [UInt8], ioapic: [UInt8], pit: [UInt8],
                clock: UInt64, clockFlags: UInt32, realtime: UInt64) {
        self.picMaster = picMaster; self.picSlave = picSlave; self.ioapic = ioapic; self.pit = pit
        self.clock = clock; self.clockFlags = clockFlags; self.realtime = realtime
    }
}

/// How a restored guest's clock continues.
public enum ClockRestore: Sendable, Equatable {
    /// Where it stopped: the guest does not see the time it spent saved (Firecracker's default).
    case resume
    /// Ahead by the wall-clock time since the snapshot (Firecracker's `clock_realtime`),
    /// so the guest's clock agrees with the world's without NTP having to step it.
    case advanceByElapsedRealtime
}
