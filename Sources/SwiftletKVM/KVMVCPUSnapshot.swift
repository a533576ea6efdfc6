import CKVM

/// One MSR and its value, as KVM_GET/SET_MSRS move them.
public struct MSRValue: Equatable, Sendable {
    public var index: UInt32
    public var value: UInt64
    public init(index: UInt32, value: UInt64) { self.index = index; self.value = value }
}

/// Everything KVM holds for one vCPU, as a paused vCPU had it: enough to continue it in a
/// new VM (and a new process) as if nothing happened.
///
/// The big opaque structures are KVM's own bytes (see `RawState`); XSAVE's size varies by
/// host (KVM_CAP_XSAVE2), the rest have fixed sizes checked on restore.
public struct KVMVCPUSnapshot: Equatable, Sendable {
    /// The CPUID the guest saw (KVM_GET_CPUID2): restored first, as KVM sizes the XSAVE
    /// area and decides which MSRs exist from it.
    public var cpuid: [CPUIDEntry]
    /// KVM_MP_STATE_*: running, halted, waiting for INIT/SIPI.
    public var mpState: UInt32
    /// kvm_regs, kvm_sregs, kvm_xsave (4096 bytes or KVM_CAP_XSAVE2's size), kvm_xcrs
    /// (empty where the host has no XCRs), kvm_debugregs, kvm_lapic_state, kvm_vcpu_events.
    public var regs: [UInt8]
    public var sregs: [UInt8]
    public var xsave: [UInt8]
    public var xcrs: [UInt8]
    public var debugRegs: [UInt8]
    public var lapic: [UInt8]
    public var msrs: [MSRValue]
    public var events: [UInt8]
    /// The guest's TSC frequency, or 0 where KVM would not say.
    public var tscKHz: UInt32

    public init(cpuid: [CPUIDEntry], mpState: UInt32, regs: [UInt8], sregs: [UInt8], xsave: [UInt8],
                xcrs: [UInt8], debugRegs: [UInt8], lapic: [UInt8], msrs: [MSRValue], events: [UInt8],
                tscKHz: UInt32) {
        self.cpuid = cpuid; self.mpState = mpState; self.regs = regs; self.sregs = sregs
        self.xsave = xsave; self.xcrs = xcrs; self.debugRegs = debugRegs; self.lapic = lapic
        self.msrs = msrs; self.events = events; self.tscKHz = tscKHz
    }

    /// The general-purpose registers, for tests and messages.
    public var registers: Registers? {
        guard let r = try? RawState.value(kvm_regs.self, from: regs, what: "registers") else { return nil }
        var out = Registers()
        out.rax = r.rax; out.rbx = r.rbx; out.rcx = r.rcx; out.rdx = r.rdx
        out.rsi = r.rsi; out.rdi = r.rdi; out.rsp = r.rsp; out.rbp = r.rbp
        out.r8 = r.r8; out.r9 = r.r9; out.r10 = r.r10; out.r11 = r.r11
        out.r12 = r.r12; out.r13 = r.r13; out.r14 = r.r14; out.r15 = r.r15
        out.rip = r.rip; out.rflags = r.rflags
        return out
    }

    /// CR0, CR3, CR4 and EFER, for tests and messages.
    public var controlState: ControlState? {
        guard let s = try? RawState.value(kvm_sregs.self, from: sregs, what: "special registers") else { return nil }
        return ControlState(cr0: s.cr0, cr3: s.cr3, cr4: s.cr4, efer: s.efer, codeSelector: s.cs.selector)
    }

    /// The MP state of a vCPU that is running (or runnable).
    public static let runnable = UInt32(KVM_MP_STATE_RUNNABLE)
}
