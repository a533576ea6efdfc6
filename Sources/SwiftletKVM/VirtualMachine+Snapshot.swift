#if canImport(Glibc)
import Glibc
#endif
import CKVM

extension VirtualMachine {
    /// Reads the PICs, the IOAPIC, the PIT and kvmclock. Every vCPU must be paused, or
    /// the controllers may change between reading them and reading the vCPUs.
    public func captureState() throws(KVMError) -> KVMVMSnapshot {
        let master = try irqchip(UInt32(KVM_IRQCHIP_PIC_MASTER), "master PIC")
        let slave = try irqchip(UInt32(KVM_IRQCHIP_PIC_SLAVE), "slave PIC")
        let ioapic = try irqchip(UInt32(KVM_IRQCHIP_IOAPIC), "IOAPIC")
        var pit = kvm_pit_state2()
        try fd.ioctl(CKVM_GET_PIT2, &pit, "read the PIT")
        var clock = kvm_clock_data()
        try fd.ioctl(CKVM_GET_CLOCK, &clock, "read kvmclock")
        let realtime = clock.flags & UInt32(KVM_CLOCK_REALTIME) != 0 ? clock.realtime : Self.realtimeNow()
        return KVMVMSnapshot(picMaster: master, picSlave: slave, ioapic: ioapic, pit: RawState.bytes(of: pit),
                             clock: clock.clock, clockFlags: clock.flags, realtime: realtime)
    }

    /// Puts `state` into this VM, whose interrupt controllers and PIT exist
    /// (`createPlatformDevices`) and whose vCPUs have not run. Comes before the vCPUs'
    /// state, as their LAPICs deliver into what the IOAPIC and PICs hold.
    public func restoreState(_ state: KVMVMSnapshot, clock: ClockRestore = .resume) throws(KVMError) {
        try setIRQChip(state.picMaster, UInt32(KVM_IRQCHIP_PIC_MASTER), "master PIC")
        try setIRQChip(state.picSlave, UInt32(KVM_IRQCHIP_PIC_SLAVE), "slave PIC")
        try setIRQChip(state.ioapic, UInt32(KVM_IRQCHIP_IOAPIC), "IOAPIC")
        var pit = try RawState.value(kvm_pit_state2.self, from: state.pit, what: "PIT")
        try fd.ioctl(CKVM_SET_PIT2, &pit, "set the PIT")
        var data = kvm_clock_data()
        data.clock = state.clock
        if clock == .advanceByElapsedRealtime {
            let canAdvance = UInt32(extensionValue(UInt(KVM_CAP_ADJUST_CLOCK))) & UInt32(KVM_CLOCK_REALTIME) != 0
            if canAdvance, state.clockFlags & UInt32(KVM_CLOCK_REALTIME) != 0 {
                // KVM adds the time since `realtime` itself, measured against the same
                // clock the moment it sets kvmclock: nothing lost in between.
                data.flags = UInt32(KVM_CLOCK_REALTIME)
                data.realtime = state.realtime
            } else {
                let now = Self.realtimeNow()
                // A wall clock set backwards since the snapshot must not send the guest back.
                data.clock = state.clock &+ (now > state.realtime ? now - state.realtime : 0)
            }
        }
        try fd.ioctl(CKVM_SET_CLOCK, &data, "set kvmclock")
    }

    /// kvmclock now, in nanoseconds.
    public func clockNanoseconds() throws(KVMError) -> UInt64 {
        var clock = kvm_clock_data()
        try fd.ioctl(CKVM_GET_CLOCK, &clock, "read kvmclock")
        return clock.clock
    }

    /// KVM_CHECK_EXTENSION on the VM: 0 when absent.
    func extensionValue(_ capability: UInt) -> Int32 {
        (try? fd.ioctl(CKVM_CHECK_EXTENSION, value: capability, "check an extension")) ?? 0
    }

    private func irqchip(_ chip: UInt32, _ name: String) throws(KVMError) -> [UInt8] {
        var state = kvm_irqchip()
        state.chip_id = chip
        try fd.ioctl(CKVM_GET_IRQCHIP, &state, "read the \(name)")
        return RawState.bytes(ofPlain: state)
    }

    private func setIRQChip(_ bytes: [UInt8], _ chip: UInt32, _ name: String) throws(KVMError) {
        var state = kvm_irqchip()
        try RawState.fill(&state, from: bytes, what: name)
        guard state.chip_id == chip else {
            throw .invalidState(what: name, detail: "it is chip \(state.chip_id), not \(chip)")
        }
        try fd.ioctl(CKVM_SET_IRQCHIP, &state, "set the \(name)")
    }

    static func realtimeNow() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return UInt64(max(now.tv_sec, 0)) * 1_000_000_000 + UInt64(max(now.tv_nsec, 0))
    }
}
