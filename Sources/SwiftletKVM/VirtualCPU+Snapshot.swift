#if canImport(Glibc)
import Glibc
#endif
import CKVM

extension VirtualCPU {
    /// Reads the vCPU's whole state. The vCPU must be out of KVM_RUN (paused) and stay so.
    ///
    /// MP state comes first: reading it makes KVM deliver a pending INIT or SIPI, which
    /// changes the registers read after it. Events come last, so that nothing read after
    /// them can have changed what is pending.
    ///
    /// - Parameters:
    ///   - msrIndices: the MSRs to save, from `readableMSRs(of:)`.
    ///   - xsaveSize: `KVMSystem.xsaveSize`.
    ///   - cpuid: the CPUID this vCPU was given (KVM_SET_CPUID2), which is what the guest
    ///     sees and what a restore must give it again; nil reads KVM_GET_CPUID2 instead.
    ///     On a real KVM the two agree (KVM recomputes the bits that follow the guest's
    ///     registers on restore). On PVM they do not: measured here, KVM_GET_CPUID2 answers
    ///     with the hardware's bits (POPCNT, XSAVE, AVX2, ...), beyond both what was set
    ///     and what KVM_GET_SUPPORTED_CPUID lists, so a host check against it always fails.
    public func captureState(msrIndices: [UInt32], xsaveSize: Int, cpuid configured: [CPUIDEntry]? = nil) throws(KVMError) -> KVMVCPUSnapshot {
        var mp = kvm_mp_state()
        try fd.ioctl(CKVM_GET_MP_STATE, &mp, "read vCPU \(id)'s MP state")
        let cpuid: [CPUIDEntry]
        if let configured { cpuid = configured } else { cpuid = try currentCPUID() }
        var regs = kvm_regs()
        try fd.ioctl(CKVM_GET_REGS, &regs, "read vCPU \(id)'s registers")
        var sregs = kvm_sregs()
        try fd.ioctl(CKVM_GET_SREGS, &sregs, "read vCPU \(id)'s special registers")
        let xsave = try readXSAVE(size: xsaveSize)
        let xcrs = try readXCRs()
        var debug = kvm_debugregs()
        try fd.ioctl(CKVM_GET_DEBUGREGS, &debug, "read vCPU \(id)'s debug registers")
        var lapic = kvm_lapic_state()
        try fd.ioctl(CKVM_GET_LAPIC, &lapic, "read vCPU \(id)'s local APIC")
        let msrs = try readMSRs(msrIndices)
        let tscKHz = (try? fd.ioctl(CKVM_GET_TSC_KHZ, value: 0, "read vCPU \(id)'s TSC frequency")).map { UInt32($0) } ?? 0
        var events = kvm_vcpu_events()
        try fd.ioctl(CKVM_GET_VCPU_EVENTS, &events, "read vCPU \(id)'s events")
        return KVMVCPUSnapshot(
            cpuid: cpuid, mpState: mp.mp_state, regs: RawState.bytes(of: regs), sregs: RawState.bytes(of: sregs),
            xsave: xsave, xcrs: xcrs, debugRegs: RawState.bytes(of: debug), lapic: RawState.bytes(of: lapic),
            msrs: msrs, events: RawState.bytes(of: events), tscKHz: tscKHz)
    }

    /// Puts `state` into this vCPU, which must be fresh (never run) and belong to a VM
    /// whose memory and interrupt controllers exist.
    ///
    /// The order is KVM's: the TSC frequency and CPUID first (they decide what the rest
    /// means), MP state, registers, special registers, XSAVE, XCRs, debug registers, the
    /// LAPIC before the MSRs (KVM drops a TSC deadline written while the LAPIC is not in
    /// TSC-deadline mode), and pending events last. Then kvmclock is told the guest was
    /// stopped, so that its watchdogs do not take the gap for a soft lockup.
    public func restoreState(_ state: KVMVCPUSnapshot) throws(KVMError) {
        if state.tscKHz != 0 { try setTSCFrequency(kHz: state.tscKHz) }
        try setCPUID(state.cpuid)
        var mp = kvm_mp_state(mp_state: state.mpState)
        try fd.ioctl(CKVM_SET_MP_STATE, &mp, "set vCPU \(id)'s MP state")
        var regs = try RawState.value(kvm_regs.self, from: state.regs, what: "registers")
        try fd.ioctl(CKVM_SET_REGS, &regs, "set vCPU \(id)'s registers")
        var sregs = try RawState.value(kvm_sregs.self, from: state.sregs, what: "special registers")
        try fd.ioctl(CKVM_SET_SREGS, &sregs, "set vCPU \(id)'s special registers")
        try writeXSAVE(state.xsave)
        if !state.xcrs.isEmpty {
            var xcrs = try RawState.value(kvm_xcrs.self, from: state.xcrs, what: "XCRs")
            try fd.ioctl(CKVM_SET_XCRS, &xcrs, "set vCPU \(id)'s XCRs")
        }
        var debug = try RawState.value(kvm_debugregs.self, from: state.debugRegs, what: "debug registers")
        try fd.ioctl(CKVM_SET_DEBUGREGS, &debug, "set vCPU \(id)'s debug registers")
        var lapic = try RawState.value(kvm_lapic_state.self, from: state.lapic, what: "local APIC")
        try fd.ioctl(CKVM_SET_LAPIC, &lapic, "set vCPU \(id)'s local APIC")
        try setMSRs(state.msrs.map { (index: $0.index, value: $0.value) })
        var events = try RawState.value(kvm_vcpu_events.self, from: state.events, what: "vCPU events")
        // KVM_GET_VCPU_EVENTS does not mark the NMI and SIPI fields valid, though it fills
        // them; without these flags KVM_SET_VCPU_EVENTS would drop a pending NMI.
        events.flags |= UInt32(KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR)
        try fd.ioctl(CKVM_SET_VCPU_EVENTS, &events, "set vCPU \(id)'s events")
        try notifyClockPaused()
    }

    /// Tells the guest's kvmclock that the vCPU was stopped by the host (the guest's
    /// watchdogs then forgive the gap). EINVAL means the guest has not turned kvmclock on:
    /// nothing to tell.
    public func notifyClockPaused() throws(KVMError) {
        do {
            try fd.ioctl(CKVM_KVMCLOCK_CTRL, value: 0, "tell vCPU \(id)'s kvmclock it was paused")
        } catch .ioctlFailed(_, let error) where error == EINVAL {
            return
        }
    }

    /// The guest's CPUID as KVM holds it now (with what KVM updates at run time: APIC
    /// and OSXSAVE bits follow the guest's registers).
    public func currentCPUID() throws(KVMError) -> [CPUIDEntry] {
        // KVM allows at most 256 entries (KVM_MAX_CPUID_ENTRIES).
        let list = try CPUIDList(capacity: 256)
        try fd.ioctl(CKVM_GET_CPUID2, list.raw, "read vCPU \(id)'s CPUID")
        return list.entries
    }

    // MARK: Parts

    /// Sets the guest TSC's frequency where it differs from what the vCPU has: a restore
    /// on a host with another TSC frequency needs KVM to scale (KVM_CAP_TSC_CONTROL).
    func setTSCFrequency(kHz: UInt32) throws(KVMError) {
        let current = try? fd.ioctl(CKVM_GET_TSC_KHZ, value: 0, "read vCPU \(id)'s TSC frequency")
        if let current, UInt32(current) == kHz { return }
        do {
            try fd.ioctl(CKVM_SET_TSC_KHZ, value: UInt(kHz), "set vCPU \(id)'s TSC to \(kHz) kHz")
        } catch .ioctlFailed(_, let error) {
            // Without TSC scaling KVM takes only rates above the host's (it then lets the
            // guest's TSC catch up on each entry); measured on PVM: EINVAL below.
            let host = current.map { "\($0) kHz" } ?? "unknown"
            throw .invalidState(what: "TSC frequency", detail: "the guest's TSC ran at \(kHz) kHz, this host's is \(host) and KVM cannot scale it (\(KVMError.text(error)))")
        }
    }

    func readXSAVE(size: Int) throws(KVMError) -> [UInt8] {
        let legacySize = MemoryLayout<kvm_xsave>.size
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(size, legacySize), alignment: 64)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        // KVM_GET_XSAVE2 fills as many bytes as KVM_CAP_XSAVE2 says; KVM_GET_XSAVE only
        // the legacy 4 KiB, which is all there is where KVM_CAP_XSAVE2 is absent.
        let request = size > legacySize ? CKVM_GET_XSAVE2 : CKVM_GET_XSAVE
        try fd.ioctl(request, buffer.baseAddress, "read vCPU \(id)'s XSAVE state")
        return Array(buffer)
    }

    func writeXSAVE(_ saved: [UInt8]) throws(KVMError) {
        let legacySize = MemoryLayout<kvm_xsave>.size
        guard saved.count >= legacySize else {
            throw .invalidState(what: "XSAVE state", detail: "\(saved.count) bytes, less than \(legacySize)")
        }
        // KVM_SET_XSAVE reads this host's XSAVE size, which may exceed the saving host's:
        // the features beyond what was saved start in their initial (zero) state.
        // 64 KiB is well past any XSAVE area x86 defines (AMX's is 11 KiB).
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(saved.count, 64 << 10), alignment: 64)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        buffer.copyBytes(from: saved)
        try fd.ioctl(CKVM_SET_XSAVE, buffer.baseAddress, "set vCPU \(id)'s XSAVE state")
    }

    /// The XCRs, or nothing where the host has none (KVM_CAP_XCRS absent: ENOTTY/EINVAL).
    func readXCRs() throws(KVMError) -> [UInt8] {
        var xcrs = kvm_xcrs()
        do {
            try fd.ioctl(CKVM_GET_XCRS, &xcrs, "read vCPU \(id)'s XCRs")
        } catch .ioctlFailed(_, let error) where error == ENOTTY || error == EINVAL {
            return []
        }
        return RawState.bytes(of: xcrs)
    }
}
